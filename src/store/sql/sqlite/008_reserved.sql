-- 008: reserved for another branch's migration of issue 10 (a placeholder
-- so that 009 has no gap; dropped when the branches are merged).
SELECT 1;
