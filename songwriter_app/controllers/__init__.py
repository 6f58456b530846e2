"""Controllers: each owns one panel's behaviour and its jobs (project, training, variations,
playback/A-B, export). The main window only composes them."""
