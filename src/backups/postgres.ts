/**
 * PostgreSQL is backed up and restored with its own tools, which do it better than partnerd could
 * (consistent dumps of a live database, continuous archiving, point-in-time recovery): `partnerd
 * backup` and `restore` say how instead of doing it. The README's Backups section says the same.
 */

export const POSTGRES_BACKUP = `database.postgres: partnerd does not copy a PostgreSQL database; PostgreSQL's tools do it while partnerd runs:
  pg_dump --format=custom --file=partnerd.dump "<database.postgres.migration_url>"   a consistent snapshot
  WAL archiving (archive_mode = on, archive_command) with pg_basebackup                point-in-time recovery
Keep secrets.key too, apart from the dumps: the stored secrets in them open only with that key.`

export const POSTGRES_RESTORE = `database.postgres: restore with PostgreSQL's tools, every partnerd instance stopped:
  pg_restore --clean --if-exists --no-owner --dbname="<database.postgres.migration_url>" partnerd.dump
  then \`partnerd migrate\` (grants the serving role, applies this version's newer migrations)
  or recover a base backup and archived WAL to a point in time (recovery_target_time)
Start partnerd with the secrets.key the data was sealed with.`
