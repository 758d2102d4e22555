"""Pinned JavaScript that roberta_lab.viz inlines into bertviz views; see ASSETS.md."""
