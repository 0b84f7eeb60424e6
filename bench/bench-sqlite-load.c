/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The baseline of the first-sync benchmark: the rows a phone holds, loaded
 * into the mirror's own schema the fastest way SQLite allows — one
 * transaction, prepared statements, values already in memory, the full-text
 * index built in one 'rebuild' at the end. Only the load is timed. */
#include "config.h"

#include <sqlite3.h>
#include <string.h>

#include "bench-sqlite-load.h"
#include "companion-mirror-store.h"

/* Per mirror table: how its values are read from the phone's database
 * (untimed), and how they are inserted (timed). The phone keeps canonical
 * JSON, so the extracted members are the mirror's typed columns as it
 * writes them. */
static const struct
{
  const char *extract;
  const char *insert;
} tables[] = {
  { "SELECT id, record->>'name', record->>'phone', record FROM contacts",
    "INSERT INTO contacts (id, name, phone, json) VALUES (?1, ?2, ?3, ?4)" },
  { "SELECT hash, record->>'kind', record->>'mime', record->>'name', record->>'size',"
    " record->>'width', record->>'height', record->>'duration_ms', record FROM media",
    "INSERT INTO media (hash, kind, mime, name, size, width, height, duration_ms, json)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)" },
  { "SELECT id, record->>'kind', record->>'title', coalesce(record->>'unread', 0),"
    " coalesce(record->>'pinned', 0), coalesce(record->>'muted', 0),"
    " coalesce(record->>'archived', 0), record->'participants', record FROM chats",
    "INSERT INTO chats (id, kind, title, unread, pinned, muted, archived, participants, json)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)" },
  { "SELECT chat, contact FROM chat_participants",
    "INSERT INTO chat_participants (chat, contact) VALUES (?1, ?2)" },
  { "SELECT id, chat, sender, sender IS NULL, time, record->>'text', media, record->>'reply_to',"
    " record->>'status', record->>'edited_at', coalesce(record->>'deleted', 0),"
    " record->'reactions', record FROM messages",
    "INSERT INTO messages (id, chat, sender, outgoing, time, text, media, reply_to, status,"
    " edited_at, deleted, reactions, json) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)" },
  { "SELECT id, record->>'kind', record->>'direction', coalesce(record->>'missed', 0), time,"
    " record->>'duration_s', record->'participants', record FROM calls",
    "INSERT INTO calls (id, kind, direction, missed, time, duration_s, participants, json)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)" },
  { "SELECT call, contact FROM call_participants",
    "INSERT INTO call_participants (call, contact) VALUES (?1, ?2)" },
};

/* After the rows: what the mirror derives from them, set-based. */
static const char finish_sql[] =
  "INSERT INTO messages_fts (messages_fts) VALUES ('rebuild');"
  "UPDATE chats SET (last_message_time, last_message_preview) = ("
  "  SELECT m.time, substr(CASE WHEN m.text <> '' THEN m.text ELSE coalesce(md.name, '') END, 1, 120)"
  "  FROM messages m LEFT JOIN media md ON md.hash = m.media"
  "  WHERE m.chat = chats.id AND m.deleted = 0 ORDER BY m.time DESC, m.id DESC LIMIT 1);"
  "UPDATE sync_state SET cursor = 1, last_sync = 1;";

typedef struct
{
  int           type;    /* SQLITE_NULL, SQLITE_INTEGER or SQLITE_TEXT */
  int           length;
  union
  {
    sqlite3_int64 integer;
    const char   *text;   /* in the row set's string chunk */
  };
} Cell;

typedef struct
{
  guint   columns;
  GArray *cells;         /* Cell, row after row */
} RowSet;

static gboolean
sqlite_failed (sqlite3     *db,
               const char  *what,
               GError     **error)
{
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "SQLite baseline: %s: %s", what,
               db != NULL ? sqlite3_errmsg (db) : "cannot open");
  return FALSE;
}

static gboolean
extract (sqlite3       *db,
         const char    *sql,
         RowSet        *rows,
         GStringChunk  *strings,
         GError       **error)
{
  sqlite3_stmt *stmt = NULL;
  int rc;

  if (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL) != SQLITE_OK)
    return sqlite_failed (db, sql, error);
  rows->columns = (guint) sqlite3_column_count (stmt);
  rows->cells = g_array_new (FALSE, FALSE, sizeof (Cell));
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    for (guint i = 0; i < rows->columns; i++)
      {
        Cell cell = { .type = sqlite3_column_type (stmt, (int) i) };

        if (cell.type == SQLITE_INTEGER || cell.type == SQLITE_FLOAT)
          {
            cell.type = SQLITE_INTEGER;
            cell.integer = sqlite3_column_int64 (stmt, (int) i);
          }
        else if (cell.type != SQLITE_NULL)
          {
            cell.type = SQLITE_TEXT;
            cell.length = sqlite3_column_bytes (stmt, (int) i);
            cell.text = g_string_chunk_insert_len (strings, (const char *) sqlite3_column_text (stmt, (int) i),
                                                   cell.length);
          }
        g_array_append_val (rows->cells, cell);
      }
  sqlite3_finalize (stmt);
  if (rc != SQLITE_DONE)
    return sqlite_failed (db, "reading the phone's rows", error);
  return TRUE;
}

static gboolean
insert (sqlite3       *db,
        const char    *sql,
        const RowSet  *rows,
        guint64       *count,
        GError       **error)
{
  sqlite3_stmt *stmt = NULL;
  const Cell *cells = (const Cell *) rows->cells->data;

  if (sqlite3_prepare_v3 (db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, NULL) != SQLITE_OK)
    return sqlite_failed (db, sql, error);
  for (guint at = 0; at < rows->cells->len; at += rows->columns)
    {
      for (guint i = 0; i < rows->columns; i++)
        {
          const Cell *cell = &cells[at + i];

          if (cell->type == SQLITE_INTEGER)
            sqlite3_bind_int64 (stmt, (int) i + 1, cell->integer);
          else if (cell->type == SQLITE_TEXT)
            sqlite3_bind_text (stmt, (int) i + 1, cell->text, cell->length, SQLITE_STATIC);
          else
            sqlite3_bind_null (stmt, (int) i + 1);
        }
      if (sqlite3_step (stmt) != SQLITE_DONE)
        {
          sqlite_failed (db, sql, error);
          sqlite3_finalize (stmt);
          return FALSE;
        }
      sqlite3_reset (stmt);
      (*count)++;
    }
  sqlite3_finalize (stmt);
  return TRUE;
}

double
bench_sqlite_load (const char  *phone_db,
                   const char  *state_dir,
                   guint64     *rows_out,
                   GError     **error)
{
  g_autoptr(GStringChunk) strings = g_string_chunk_new (1 << 20);
  RowSet rows[G_N_ELEMENTS (tables)] = { 0 };
  g_autofree char *mirror_db = g_build_filename (state_dir, COMPANION_MIRROR_STORE_FILENAME, NULL);
  sqlite3 *phone = NULL, *db = NULL;
  double seconds = -1;
  guint64 count = 0;
  gint64 start;
  gboolean ok = TRUE;

  /* The schema is the mirror's own: an empty store makes it. */
  {
    g_autoptr(CompanionMirrorStore) empty = companion_mirror_store_open (state_dir, error);
    if (empty == NULL)
      return -1;
  }

  if (sqlite3_open_v2 (phone_db, &phone, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
    ok = sqlite_failed (phone, phone_db, error);
  for (guint i = 0; ok && i < G_N_ELEMENTS (tables); i++)
    ok = extract (phone, tables[i].extract, &rows[i], strings, error);
  sqlite3_close (phone);

  /* The mirror's connection settings, with the page cache and checkpoint
   * interval the mirror uses during a snapshot. */
  if (ok && (sqlite3_open_v2 (mirror_db, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK ||
             sqlite3_exec (db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
                               "PRAGMA foreign_keys = ON; PRAGMA cache_size = -" G_STRINGIFY (BENCH_CACHE_KIB) ";"
                               "PRAGMA wal_autocheckpoint = " G_STRINGIFY (BENCH_CHECKPOINT_PAGES),
                           NULL, NULL, NULL) != SQLITE_OK))
    ok = sqlite_failed (db, mirror_db, error);

  start = g_get_monotonic_time ();
  if (ok && sqlite3_exec (db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
    ok = sqlite_failed (db, "BEGIN", error);
  for (guint i = 0; ok && i < G_N_ELEMENTS (tables); i++)
    ok = insert (db, tables[i].insert, &rows[i], &count, error);
  if (ok && sqlite3_exec (db, finish_sql, NULL, NULL, NULL) != SQLITE_OK)
    ok = sqlite_failed (db, "indexing", error);
  if (ok && sqlite3_exec (db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
    ok = sqlite_failed (db, "COMMIT", error);
  if (ok)
    seconds = (g_get_monotonic_time () - start) / 1e6;

  sqlite3_close (db);
  for (guint i = 0; i < G_N_ELEMENTS (tables); i++)
    if (rows[i].cells != NULL)
      g_array_unref (rows[i].cells);
  if (rows_out != NULL)
    *rows_out = count;
  return seconds;
}
