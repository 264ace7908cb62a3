"""The check pipeline (private): options → case → oracles → comparisons → verdict → reproducer."""
