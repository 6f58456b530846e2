"""Dialogs: export, errors."""
