"""Issues kept in the database with every version, for the console and the API."""
