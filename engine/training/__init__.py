"""Training: losses, the training loop (iter_train and its events), and what training costs
on a device (probe and estimates)."""
