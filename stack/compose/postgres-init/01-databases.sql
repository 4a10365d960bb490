-- Runs once, when the postgres container initialises an empty data directory
-- (docker-entrypoint-initdb.d), as POSTGRES_USER (`sluice`, a superuser of this instance).
-- The two databases Sluice uses: SLUICE_OLTP_DATABASE and SLUICE_WAREHOUSE_DATABASE defaults.
CREATE DATABASE oltp OWNER sluice;      -- the shop's source database (extracted hourly)
CREATE DATABASE warehouse OWNER sluice; -- bronze / silver / gold layers
