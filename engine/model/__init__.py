"""The model: the scale pyramid (rates, per-scale signals, noise amplitudes), the networks
(G and D of one scale), and the stack of frozen generators run coarse to fine."""
