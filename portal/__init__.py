"""The partner portal (服务商门户): partner-facing web pages and the partner API, with API tokens.

Partners sign in to read their settlements, download statements and detail
files, dispute lines and manage webhooks; the same reads are served as a REST
API. Everything goes through the statement and settlement selectors and
services, scoped to the caller's own partner.
"""
