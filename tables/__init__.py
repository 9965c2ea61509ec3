"""State declarations: changelog-backed RocksDB tables and their codecs."""
