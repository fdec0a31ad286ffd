"""Who did what to money and state, one append-only table per schema."""
