-- stub
CREATE TABLE stub (x INTEGER);
