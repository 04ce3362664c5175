"""HTTP in the Docker Engine API's shapes: routes, decoding, streams, and the one
place where typed errors become status codes. No business rule lives here."""
