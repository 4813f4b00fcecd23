"""aegan: AEGAN-AD anomalous sound detection for machines (DCASE 2020 / 2022 Task 2)."""

__version__ = "0.1.0"
