"""Thin Faust stream handlers: parse, route, load state, evaluate, send, store, ack."""
