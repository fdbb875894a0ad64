-- 005: reserved for another branch of issue 12; the coordinator drops
-- this placeholder at merge.
SELECT 1;
