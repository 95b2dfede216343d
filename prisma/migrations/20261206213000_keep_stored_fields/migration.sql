-- Fields built from unchanged TOAST columns keep what the store holds, merged inside the upsert
-- (server/store/contexts.ts): the stored value, typically the large one, never travels to a worker
-- and back. `paths` is a JSON array of paths (arrays of object keys), as the mapping's target
-- paths are. For each, in order: the stored value at that path (found through objects only)
-- replaces the fresh one, objects made on the way (a non-object on the way is replaced, as the
-- mapping does); or, when the store holds nothing there, the path is removed from the fresh data.
CREATE FUNCTION ecm_keep_stored(fresh jsonb, stored jsonb, paths jsonb) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
  path text[];
  kept jsonb;
BEGIN
  FOR path IN
    SELECT ARRAY(SELECT s.segment FROM jsonb_array_elements_text(p.value) WITH ORDINALITY AS s(segment, n) ORDER BY s.n)
    FROM jsonb_array_elements(paths) WITH ORDINALITY AS p(value, n) ORDER BY p.n
  LOOP
    CONTINUE WHEN cardinality(path) = 0;
    kept := stored;
    FOR i IN 1 .. cardinality(path) LOOP
      EXIT WHEN kept IS NULL;
      kept := CASE WHEN jsonb_typeof(kept) = 'object' THEN kept -> path[i] END;
    END LOOP;
    IF kept IS NULL THEN
      -- Removed only where objects lead to it (as in the mapping); nothing to remove otherwise.
      IF (SELECT bool_and(jsonb_typeof(fresh #> path[1:i]) = 'object') FROM generate_series(0, cardinality(path) - 1) AS i) THEN
        fresh := fresh #- path;
      END IF;
    ELSE
      FOR i IN 1 .. cardinality(path) - 1 LOOP
        IF jsonb_typeof(fresh #> path[1:i]) IS DISTINCT FROM 'object' THEN
          fresh := jsonb_set(fresh, path[1:i], '{}');
        END IF;
      END LOOP;
      fresh := jsonb_set(fresh, path, kept);
    END IF;
  END LOOP;
  RETURN fresh;
END $$;
