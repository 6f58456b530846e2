"""Analysis: objective quality measures for generated variations (docs: metrics.md).

No pretrained embedding is available offline, so every measure is built from
weight-free signal features (log-mel frames from engine.audio.features). A number
means something only next to its baselines, computed on the same clip:

- real vs real: the clip's two interleaved halves (odd against even 2 s blocks), and
  another excerpt of the same song when there is one;
- cut-and-paste: the clip cut into 1-2 s pieces and shuffled (a disguised copy);
- shaped noise: white noise filtered to the clip's average spectrum;
- untrained generator: the project's pyramid with freshly initialised weights.

Everything compares a variation v with the training clip x at the same (working)
rate. Both are brought to the same RMS level first, so the numbers describe
spectral shape, texture and structure rather than loudness (the level
difference is reported separately as `level_db`).

Per variation (`VariationMetrics`), lower is closer for the first two:
- timbre_fd: Fréchet distance between the Gaussian fits (mean, covariance) of the
  per-frame features of v and x (MFCCs c1..c19 by default, or log-mel frames in dB).
  0 = the same statistics. Order-blind: a verbatim copy also scores ~0.
- ltas_db: RMS over mel bands of the difference of the long-term average spectra, dB.
- max_xcorr: max |normalised cross-correlation| over all lags (waveforms); 1 = a
  (possibly shifted) verbatim copy, ~0 = unrelated. Lower is more novel.
- local_xcorr: mean over 1 s windows of v of the best normalised match anywhere in x;
  catches copied pieces that the global value averages away. Lower is more novel.
- copy_ratio: share of v's frames whose log-mel patch has a nearly identical patch in x
  (cosine >= threshold) *and* whose neighbours match x's neighbours in the same order.
  1 = all copied, 0 = nothing copied. Lower is more novel.
- longest_copy_s: the longest such run of copied frames, in seconds. Lower is more novel.

Among variations (`DiversityMetrics`), higher is more diverse; 0 = all identical.
Reconstruction (`ReconstructionMetrics`): a training health check; lower distances and
higher SNR are better.

The package, from the clip's features up to the words the GUI shows:

    features        log-mel in dB, MFCC timbre features, Gaussian fits, Fréchet distance
    reference       Reference: the clip's features, computed once (prepare_reference)
    measures        per-variation measures (VariationMetrics, copy detector) and diversity
    reconstruction  SNR, log-spectral and multi-resolution STFT distance of a reconstruction
    baselines       real vs real, cut-and-paste, shaped noise, untrained generator
    report          evaluate(): everything `songwriter-cli evaluate` prints and writes
    verdict         quick_verdict(): one line for a musician, with the per-clip baselines cached
"""

from __future__ import annotations

from engine.analysis.baselines import (
    BASELINE_LABELS,
    compute_baselines,
    cut_and_paste,
    interleaved_halves,
    shaped_noise,
    untrained_generator_output,
)
from engine.analysis.features import (
    COPY_BAND_LIMIT,
    EPS,
    N_MELS,
    N_MFCC,
    FeatureKind,
    copy_bands,
    frame_seconds,
    frechet,
    gaussian_stats,
    logmel_db,
    match_rms,
    timbre_features,
)
from engine.analysis.measures import (
    COPY_CONTINUE,
    COPY_THRESHOLD,
    SILENCE_BELOW_DB,
    CopyMatch,
    DiversityMetrics,
    VariationMetrics,
    copy_detect,
    diversity,
    evaluate_variation,
    local_xcorr,
    ltas_distance,
    max_normalised_xcorr,
    timbre_distance,
)
from engine.analysis.reconstruction import (
    MAX_SNR_DB,
    ReconstructionMetrics,
    reconstruction_metrics,
    snr_db,
)
from engine.analysis.reference import (
    DYNAMIC_RANGE_DB,
    PATCH_SECONDS,
    XCORR_MAX_RATE,
    Reference,
    prepare_reference,
)
from engine.analysis.report import TABLE_COLUMNS, EvaluationReport, evaluate, mean_metrics
from engine.analysis.verdict import XCORR_FOLLOWS, quick_verdict

__all__ = [
    "BASELINE_LABELS",
    "COPY_BAND_LIMIT",
    "COPY_CONTINUE",
    "COPY_THRESHOLD",
    "DYNAMIC_RANGE_DB",
    "EPS",
    "MAX_SNR_DB",
    "N_MELS",
    "N_MFCC",
    "PATCH_SECONDS",
    "SILENCE_BELOW_DB",
    "TABLE_COLUMNS",
    "XCORR_FOLLOWS",
    "XCORR_MAX_RATE",
    "CopyMatch",
    "DiversityMetrics",
    "EvaluationReport",
    "FeatureKind",
    "ReconstructionMetrics",
    "Reference",
    "VariationMetrics",
    "compute_baselines",
    "copy_bands",
    "copy_detect",
    "cut_and_paste",
    "diversity",
    "evaluate",
    "evaluate_variation",
    "frame_seconds",
    "frechet",
    "gaussian_stats",
    "interleaved_halves",
    "local_xcorr",
    "logmel_db",
    "ltas_distance",
    "match_rms",
    "max_normalised_xcorr",
    "mean_metrics",
    "prepare_reference",
    "quick_verdict",
    "reconstruction_metrics",
    "shaped_noise",
    "snr_db",
    "timbre_distance",
    "timbre_features",
    "untrained_generator_output",
]
