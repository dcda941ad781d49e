"""Campaigns: an issue × a list × a time, and the per-recipient delivery ledger."""
