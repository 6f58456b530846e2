"""The measures' names in words, with their units, for lists, menus and reports."""

from __future__ import annotations

# key -> (short name for a column header or a menu, unit or "" , one line on what it says)
METRIC_WORDS: dict[str, tuple[str, str, str]] = {
    "timbre_fd": ("Timbre distance", "FD",
                  "Fréchet distance of MFCC statistics to the original: lower is closer"),
    "timbre_fd_real_vs_real": ("Timbre distance, real vs real", "FD",
                               "the same measure between two parts of the original"),
    "timbre_fd_shaped_noise": ("Timbre distance, shaped noise", "FD",
                               "the same measure for noise with the original's spectrum"),
    "timbre_position": ("Timbre position", "",
                        "0 = as close as real audio, 1 = as far as shaped noise"),
    "ltas_db": ("Spectrum difference", "dB", "long-term average spectrum distance"),
    "max_xcorr": ("Waveform similarity", "", "largest cross-correlation with the original"),
    "local_xcorr": ("Waveform similarity, 1 s", "",
                    "largest cross-correlation of 1 s pieces with the original"),
    "copy_ratio": ("Share copied", "", "share of the variation found in order in the original"),
    "copy_ratio_cut_and_paste": ("Share copied, cut-and-paste", "",
                                 "the same measure for a cut-and-paste of the original"),
    "longest_copy_s": ("Longest copied run", "s",
                       "longest stretch copied in order from the original"),
    "longest_copy_s_cut_and_paste": ("Longest copied run, cut-and-paste", "s",
                                     "the same measure for a cut-and-paste of the original"),
}
PREFERRED_METRICS = ("longest_copy_s", "copy_ratio", "timbre_fd")  # shown first, if present


def metric_label(key: str) -> str:
    """'Longest copied run (s)'; an unknown key is shown with its words spaced out."""
    name, unit, _ = METRIC_WORDS.get(key, (key.replace("_", " ").capitalize(), "", ""))
    return f"{name} ({unit})" if unit else name


def metric_help(key: str) -> str:
    return METRIC_WORDS.get(key, ("", "", ""))[2]
