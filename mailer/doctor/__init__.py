"""`mailer doctor`: is this set-up fit to send bulk mail that Gmail and Yahoo accept?

``mailer.doctor.run.diagnose`` runs the checks; it is not imported here, so
that importing the findings does not load dnspython.
"""

from mailer.doctor.findings import Finding, Level, Report

__all__ = ["Finding", "Level", "Report"]
