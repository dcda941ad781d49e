"""`mailer doctor`: is this set-up fit to send bulk mail that Gmail and Yahoo accept?"""

from mailer.doctor.findings import Finding, Level, Report
from mailer.doctor.run import diagnose, is_local_setup

__all__ = ["Finding", "Level", "Report", "diagnose", "is_local_setup"]
