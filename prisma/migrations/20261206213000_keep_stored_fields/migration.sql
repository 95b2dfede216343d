-- Fields built from unchanged TOAST columns keep what the store holds, merged inside the upsert
-- (server/store/contexts.ts): the stored value, typically the large one, never travels to a worker
-- and back. `paths` is a JSON array of paths (arrays of object keys); for each, the stored value
-- at that path replaces the fresh one, creating objects on the way (a non-object on the way is
-- replaced), or the path is removed when the store holds nothing there.
CREATE FUNCTION ecm_keep_stored(fresh jsonb, stored jsonb, paths jsonb) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
  path text[];
  kept jsonb;
BEGIN
  FOR path IN SELECT ARRAY(SELECT jsonb_array_elements_text(p)) FROM jsonb_array_elements(paths) AS p LOOP
    CONTINUE WHEN cardinality(path) = 0;
    kept := stored #> path;
    IF kept IS NULL THEN
      IF jsonb_typeof(fresh #> path[1:cardinality(path) - 1]) = 'object' THEN
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
