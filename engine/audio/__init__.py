"""Audio file -> section: reading and writing (io), the DSP routines taken from torchaudio
(dsp, the only torchaudio importer), and spectral features (features)."""
