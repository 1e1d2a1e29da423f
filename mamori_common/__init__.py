"""Cross-cutting code shared by every Mamori process.

Settings, database engines and migrations, problem details, observability, the event outbox and
inbox, service-to-service tokens and client-address resolution. No domain rules live here: a
reader looking for a throttle limit or a refund split goes to the service that owns it.
"""
