-- One database per service (docker-compose.yml mounts this into the postgres container, which runs
-- it once, when its data volume is first created). No service reads another's tables: each
-- service's URL names its own database, and its own migrations create its schema there.
CREATE DATABASE auth;
CREATE DATABASE verification;
CREATE DATABASE orders;
