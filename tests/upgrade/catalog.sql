-- Everything an extension version defines, as sorted text lines: two
-- databases with the same version of pg_coord print the same lines whatever
-- path (fresh install or a chain of upgrade scripts) brought them there.
-- OIDs never appear; objects are named by schema, name and signature.
\pset format unaligned
\pset tuples_only on
\pset footer off
WITH ext AS (
    SELECT e.oid, e.extversion, e.extconfig, e.extcondition FROM pg_extension e WHERE e.extname = 'pg_coord'
), members AS (
    SELECT d.classid, d.objid FROM pg_depend d, ext
    WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid = ext.oid AND d.deptype = 'e'
), lines(line) AS (
    SELECT 'extension ' || extversion FROM ext
    UNION ALL
    SELECT 'config-dump ' || c::regclass::text || ' ' || coalesce(w, '')
    FROM ext, unnest(extconfig, extcondition) AS u(c, w)
    UNION ALL
    -- Functions: signature, result, language, attributes, settings, body of SQL/plpgsql ones.
    SELECT 'function ' || p.oid::regprocedure::text
        || ' returns ' || pg_get_function_result(p.oid)
        || ' args(' || pg_get_function_arguments(p.oid) || ')'
        || ' lang ' || l.lanname || ' ' || p.provolatile::text || ' ' || p.proparallel::text
        || CASE WHEN p.prosecdef THEN ' security-definer' ELSE '' END
        || CASE WHEN p.proisstrict THEN ' strict' ELSE '' END
        || ' rows ' || p.prorows || ' cost ' || p.procost
        || ' config ' || coalesce(array_to_string(p.proconfig, ','), '')
        || ' symbol ' || CASE WHEN l.lanname = 'c' THEN p.prosrc ELSE md5(p.prosrc) END
        || ' acl ' || coalesce(p.proacl::text, 'default')
        || ' comment ' || coalesce(obj_description(p.oid, 'pg_proc'), '<none>')
    FROM members m JOIN pg_proc p ON m.classid = 'pg_proc'::regclass AND p.oid = m.objid
    JOIN pg_language l ON l.oid = p.prolang
    UNION ALL
    -- Relations: kind, options, ACL, comment; views' definitions.
    SELECT 'relation ' || c.oid::regclass::text || ' kind ' || c.relkind::text
        || ' options ' || coalesce(array_to_string(c.reloptions, ','), '')
        || ' persistence ' || c.relpersistence::text || ' replident ' || c.relreplident::text
        || ' rls ' || c.relrowsecurity
        || ' acl ' || coalesce(c.relacl::text, 'default')
        || ' comment ' || coalesce(obj_description(c.oid, 'pg_class'), '<none>')
        || CASE WHEN c.relkind = 'v' THEN ' view ' || regexp_replace(pg_get_viewdef(c.oid), '\s+', ' ', 'g') ELSE '' END
    FROM members m JOIN pg_class c ON m.classid = 'pg_class'::regclass AND c.oid = m.objid
    UNION ALL
    -- Columns in order, with types, NOT NULL, defaults, ACLs and comments.
    SELECT 'column ' || c.oid::regclass::text || ' ' || a.attnum || ' ' || a.attname
        || ' ' || format_type(a.atttypid, a.atttypmod)
        || CASE WHEN a.attnotnull THEN ' not-null' ELSE '' END
        || ' default ' || coalesce(pg_get_expr(ad.adbin, ad.adrelid), '')
        || CASE WHEN a.attgenerated <> '' THEN ' generated ' || a.attgenerated::text ELSE '' END
        || CASE WHEN a.attidentity <> '' THEN ' identity ' || a.attidentity::text ELSE '' END
        || ' collation ' || coalesce(co.collname, '')
        || ' acl ' || coalesce(a.attacl::text, 'default')
        || ' comment ' || coalesce(col_description(c.oid, a.attnum), '<none>')
    FROM members m JOIN pg_class c ON m.classid = 'pg_class'::regclass AND c.oid = m.objid
    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
    LEFT JOIN pg_attrdef ad ON ad.adrelid = c.oid AND ad.adnum = a.attnum
    LEFT JOIN pg_collation co ON co.oid = a.attcollation AND a.attcollation <> 0
    UNION ALL
    -- Indexes of the extension's tables.
    SELECT 'index ' || pg_get_indexdef(i.indexrelid)
    FROM members m JOIN pg_index i ON m.classid = 'pg_class'::regclass AND i.indrelid = m.objid
    UNION ALL
    -- Constraints of the extension's tables.
    SELECT 'constraint ' || r.conrelid::regclass::text || ' ' || r.conname || ' '
        || pg_get_constraintdef(r.oid)
    FROM members m JOIN pg_constraint r ON m.classid = 'pg_class'::regclass AND r.conrelid = m.objid
    UNION ALL
    -- Triggers of the extension's tables.
    SELECT 'trigger ' || pg_get_triggerdef(t.oid)
    FROM members m JOIN pg_trigger t ON m.classid = 'pg_class'::regclass AND t.tgrelid = m.objid
    WHERE NOT t.tgisinternal
    UNION ALL
    -- Sequences' parameters.
    SELECT 'sequence ' || s.seqrelid::regclass::text || ' ' || format_type(s.seqtypid, NULL)
        || ' start ' || s.seqstart || ' inc ' || s.seqincrement || ' min ' || s.seqmin
        || ' max ' || s.seqmax || ' cache ' || s.seqcache || ' cycle ' || s.seqcycle
    FROM members m JOIN pg_sequence s ON m.classid = 'pg_class'::regclass AND s.seqrelid = m.objid
    UNION ALL
    -- Types the extension defines.
    SELECT 'type ' || t.oid::regtype::text || ' ' || t.typtype::text
        || ' comment ' || coalesce(obj_description(t.oid, 'pg_type'), '<none>')
    FROM members m JOIN pg_type t ON m.classid = 'pg_type'::regclass AND t.oid = m.objid
    UNION ALL
    -- The schema: ACL and comment.
    SELECT 'schema ' || n.nspname || ' acl ' || coalesce(n.nspacl::text, 'default')
        || ' comment ' || coalesce(obj_description(n.oid, 'pg_namespace'), '<none>')
    FROM pg_namespace n WHERE n.nspname = 'coord'
    UNION ALL
    -- Any other member object (an operator, a cast, an event trigger ...), by identity.
    SELECT 'member ' || (pg_identify_object(m.classid, m.objid, 0)).type || ' '
        || (pg_identify_object(m.classid, m.objid, 0)).identity
    FROM members m
    WHERE m.classid NOT IN ('pg_proc'::regclass, 'pg_class'::regclass, 'pg_type'::regclass)
    UNION ALL
    -- The settings the library defines (GUCs).
    SELECT 'guc ' || name || ' ' || vartype || ' ' || context || ' boot ' || coalesce(boot_val, '')
        || ' unit ' || coalesce(unit, '') || ' min ' || coalesce(min_val, '')
        || ' max ' || coalesce(max_val, '') || ' ' || coalesce(short_desc, '')
    FROM pg_settings WHERE name LIKE 'coord.%'
)
SELECT line FROM lines ORDER BY line COLLATE "C";
