-- Room on each page for a context's next version: a stream's update then stays on the page (a HOT
-- update) and adds no entries to contexts' indexes, since none of their columns change.
ALTER TABLE "contexts" SET (fillfactor = 80);
