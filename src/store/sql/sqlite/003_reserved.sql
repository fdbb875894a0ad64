-- 003: RESERVED. A placeholder so that 004 builds on this branch alone:
-- embed-sql.py wants migrations numbered without gaps. Another branch of
-- issue 9 adds the real 003 (003_client_grants.sql); drop this file and
-- its line in src/store/meson.build when that one is merged. Never ship it.
SELECT 1;
