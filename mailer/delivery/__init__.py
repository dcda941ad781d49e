"""Delivery: workers claim ledger rows, build, sign and send, and record outcomes."""
