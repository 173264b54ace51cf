"""Where task code runs: long-lived threads and long-lived processes."""
