"""Widgets the main window composes: waveform, mel, loss plot, lists, compare view."""
