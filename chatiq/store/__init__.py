"""The SQL layer: every query ChatIQ runs, as async functions over an aiopg pool."""
