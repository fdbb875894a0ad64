-- 007: reserved for dynamic client registration (another branch); this
-- placeholder keeps the numbering without a gap and is dropped at merge.
SELECT 1;
