"""Bounces and complaints: VERP, reading DSNs and ARF reports, the suppression policy."""
