"""The subscriber web app: subscribe, confirm, unsubscribe, preferences, archive."""
