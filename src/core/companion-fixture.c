/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "companion-fixture"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "companion-fixture.h"

#define HASH_SIZE 32

G_DEFINE_QUARK (companion-fixture-error-quark, companion_fixture_error)

/* The arrays of a fixture, in the order they are applied. */
static const struct
{
  const char      *name;
  CompanionEntity  entity;
} sections[] = {
  { "contacts", COMPANION_ENTITY_CONTACT },
  { "media", COMPANION_ENTITY_MEDIA },
  { "chats", COMPANION_ENTITY_CHAT },
  { "messages", COMPANION_ENTITY_MESSAGE },
  { "calls", COMPANION_ENTITY_CALL },
};

typedef struct
{
  char       *dir;           /* the fixture's folder, resolved */
  JsonArray  *arrays[COMPANION_N_ENTITIES];
  GPtrArray  *records[COMPANION_N_ENTITIES];  /* JsonObject, without "file" */
  GHashTable *index[COMPANION_N_ENTITIES];    /* id → position + 1 */
  GPtrArray  *media_files;                    /* char *, per media */
} Fixture;

static void
fixture_clear (Fixture *f)
{
  g_free (f->dir);
  for (guint e = 0; e < COMPANION_N_ENTITIES; e++)
    {
      g_clear_pointer (&f->records[e], g_ptr_array_unref);
      g_clear_pointer (&f->index[e], g_hash_table_unref);
    }
  g_clear_pointer (&f->media_files, g_ptr_array_unref);
}

static const char *
section_name (CompanionEntity entity)
{
  for (guint i = 0; i < G_N_ELEMENTS (sections); i++)
    if (sections[i].entity == entity)
      return sections[i].name;
  g_assert_not_reached ();
}

static gboolean
fail_at (GError        **error,
         gint            code,
         CompanionEntity entity,
         guint           position,
         const char     *id,
         const char     *format,
         ...) G_GNUC_PRINTF (6, 7);

static gboolean
fail_at (GError        **error,
         gint            code,
         CompanionEntity entity,
         guint           position,
         const char     *id,
         const char     *format,
         ...)
{
  g_autofree char *what = NULL;
  va_list args;

  va_start (args, format);
  what = g_strdup_vprintf (format, args);
  va_end (args);
  if (id != NULL)
    g_set_error (error, COMPANION_FIXTURE_ERROR, code, "%s[%u] “%s”: %s",
                 section_name (entity), position, id, what);
  else
    g_set_error (error, COMPANION_FIXTURE_ERROR, code, "%s[%u]: %s",
                 section_name (entity), position, what);
  return FALSE;
}

static gboolean
read_file (const char *path,
           char      **contents_out,
           gsize      *length_out,
           GError    **error)
{
  struct stat st;
  g_autofree char *contents = NULL;
  gsize done = 0;
  int fd = g_open (path, O_RDONLY | O_CLOEXEC, 0);

  if (fd < 0)
    {
      int saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "Cannot open the fixture “%s”: %s", path, g_strerror (saved));
      return FALSE;
    }
  if (fstat (fd, &st) != 0 || !S_ISREG (st.st_mode))
    {
      close (fd);
      g_set_error (error, COMPANION_FIXTURE_ERROR, COMPANION_FIXTURE_ERROR_INVALID,
                   "The fixture “%s” is not a regular file", path);
      return FALSE;
    }
  if (st.st_size > COMPANION_FIXTURE_MAX_SIZE)
    {
      close (fd);
      g_set_error (error, COMPANION_FIXTURE_ERROR, COMPANION_FIXTURE_ERROR_TOO_LARGE,
                   "The fixture “%s” has %" G_GINT64_FORMAT " bytes; at most %d are accepted",
                   path, (gint64) st.st_size, COMPANION_FIXTURE_MAX_SIZE);
      return FALSE;
    }
  contents = g_malloc ((gsize) st.st_size + 1);
  while (done < (gsize) st.st_size)
    {
      ssize_t n = read (fd, contents + done, (gsize) st.st_size - done);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        {
          int saved = n < 0 ? errno : EIO;
          close (fd);
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                       "Cannot read the fixture “%s”: %s", path, g_strerror (saved));
          return FALSE;
        }
      done += (gsize) n;
    }
  close (fd);
  contents[done] = '\0';
  *contents_out = g_steal_pointer (&contents);
  *length_out = done;
  return TRUE;
}

/* FILE, relative to the fixture's folder, without ".." or absolute parts;
 * symbolic links must not lead out of the folder either. */
static char *
resolve_media_file (Fixture        *f,
                    guint           position,
                    const char     *hash,
                    const char     *file,
                    GError        **error)
{
  g_auto(GStrv) parts = NULL;
  g_autofree char *joined = NULL;
  g_autofree char *real = NULL;
  g_autofree char *prefix = NULL;

  if (*file == '\0' || g_path_is_absolute (file) || strchr (file, '\\') != NULL)
    {
      fail_at (error, COMPANION_FIXTURE_ERROR_FILE, COMPANION_ENTITY_MEDIA, position, hash,
               "“file” must be a relative path inside the fixture's folder, not “%s”", file);
      return NULL;
    }
  parts = g_strsplit (file, "/", -1);
  for (guint i = 0; parts[i] != NULL; i++)
    if (g_str_equal (parts[i], ".."))
      {
        fail_at (error, COMPANION_FIXTURE_ERROR_FILE, COMPANION_ENTITY_MEDIA, position, hash,
                 "“file” “%s” must not leave the fixture's folder (“..”)", file);
        return NULL;
      }

  joined = g_build_filename (f->dir, file, NULL);
  real = realpath (joined, NULL);
  if (real == NULL)
    {
      int saved = errno;
      fail_at (error, COMPANION_FIXTURE_ERROR_FILE, COMPANION_ENTITY_MEDIA, position, hash,
               "“file” “%s” cannot be opened: %s", file, g_strerror (saved));
      return NULL;
    }
  prefix = g_strconcat (f->dir, G_DIR_SEPARATOR_S, NULL);
  if (!g_str_has_prefix (real, prefix))
    {
      fail_at (error, COMPANION_FIXTURE_ERROR_FILE, COMPANION_ENTITY_MEDIA, position, hash,
               "“file” “%s” leads out of the fixture's folder", file);
      return NULL;
    }
  return g_steal_pointer (&real);
}

static gboolean
check_media_file (Fixture    *f,
                  guint       position,
                  JsonObject *record,
                  const char *path,
                  const char *file,
                  GError    **error)
{
  crypto_generichash_state state;
  guint8 hash[HASH_SIZE];
  char hex[HASH_SIZE * 2 + 1];
  const char *expected = json_object_get_string_member (record, "hash");
  gint64 size = json_object_get_int_member (record, "size");
  g_autoptr(GMappedFile) mapped = NULL;
  g_autoptr(GError) local_error = NULL;
  gsize length;

  mapped = g_mapped_file_new (path, FALSE, &local_error);
  if (mapped == NULL)
    return fail_at (error, COMPANION_FIXTURE_ERROR_FILE, COMPANION_ENTITY_MEDIA, position, expected,
                    "“file” “%s” cannot be read: %s", file, local_error->message);
  length = g_mapped_file_get_length (mapped);
  crypto_generichash_init (&state, NULL, 0, HASH_SIZE);
  crypto_generichash_update (&state, (const guint8 *) g_mapped_file_get_contents (mapped), length);
  crypto_generichash_final (&state, hash, HASH_SIZE);
  sodium_bin2hex (hex, sizeof hex, hash, HASH_SIZE);
  if (!g_str_equal (hex, expected))
    return fail_at (error, COMPANION_FIXTURE_ERROR_FILE, COMPANION_ENTITY_MEDIA, position, expected,
                    "“hash” does not match “file” “%s”, whose BLAKE2b-256 is %s", file, hex);
  if ((gint64) length != size)
    return fail_at (error, COMPANION_FIXTURE_ERROR_FILE, COMPANION_ENTITY_MEDIA, position, expected,
                    "“size” is %" G_GINT64_FORMAT " but “file” “%s” has %" G_GSIZE_FORMAT " bytes",
                    size, file, length);
  return TRUE;
}

/* Every entry of every array is a valid record with a unique id. */
static gboolean
check_records (Fixture *f,
               GError **error)
{
  for (guint s = 0; s < G_N_ELEMENTS (sections); s++)
    {
      CompanionEntity entity = sections[s].entity;
      JsonArray *array = f->arrays[entity];
      guint n = array != NULL ? json_array_get_length (array) : 0;

      f->records[entity] = g_ptr_array_new_with_free_func ((GDestroyNotify) json_object_unref);
      f->index[entity] = g_hash_table_new (g_str_hash, g_str_equal);
      for (guint i = 0; i < n; i++)
        {
          JsonNode *node = json_array_get_element (array, i);
          g_autoptr(JsonObject) record = NULL;
          g_autoptr(GError) local_error = NULL;
          const char *file = NULL;
          const char *id;
          gpointer previous;

          if (!JSON_NODE_HOLDS_OBJECT (node))
            return fail_at (error, COMPANION_FIXTURE_ERROR_INVALID, entity, i, NULL,
                            "must be an object");
          record = json_object_new ();
          {
            JsonObjectIter iter;
            const char *member;
            JsonNode *value;

            json_object_iter_init (&iter, json_node_get_object (node));
            while (json_object_iter_next (&iter, &member, &value))
              {
                if (entity == COMPANION_ENTITY_MEDIA && g_str_equal (member, "file"))
                  {
                    if (!JSON_NODE_HOLDS_VALUE (value) || json_node_get_value_type (value) != G_TYPE_STRING)
                      return fail_at (error, COMPANION_FIXTURE_ERROR_INVALID, entity, i, NULL,
                                      "“file” must be a string");
                    file = json_node_get_string (value);
                  }
                else
                  json_object_set_member (record, member, json_node_copy (value));
              }
          }
          if (!companion_record_validate (entity, record, &local_error))
            return fail_at (error, COMPANION_FIXTURE_ERROR_INVALID, entity, i, NULL,
                            "%s", local_error->message);
          id = companion_record_get_id (entity, record);
          if (g_hash_table_lookup_extended (f->index[entity], id, NULL, &previous))
            return fail_at (error, COMPANION_FIXTURE_ERROR_INVALID, entity, i, id,
                            "the %s is already given at %s[%u]", entity == COMPANION_ENTITY_MEDIA ? "hash" : "id",
                            sections[s].name, GPOINTER_TO_UINT (previous) - 1);
          if (entity == COMPANION_ENTITY_MEDIA)
            {
              g_autofree char *path = NULL;

              if (file == NULL)
                return fail_at (error, COMPANION_FIXTURE_ERROR_INVALID, entity, i, id,
                                "“file” is missing");
              path = resolve_media_file (f, i, id, file, error);
              if (path == NULL || !check_media_file (f, i, record, path, file, error))
                return FALSE;
              g_ptr_array_add (f->media_files, g_steal_pointer (&path));
            }
          g_ptr_array_add (f->records[entity], json_object_ref (record));
          /* Keys live in the records, which outlive the index. */
          g_hash_table_insert (f->index[entity], (gpointer) id, GUINT_TO_POINTER (f->records[entity]->len));
        }
    }
  return TRUE;
}

static gboolean
check_reference (Fixture        *f,
                 CompanionEntity entity,
                 guint           position,
                 const char     *id,
                 const char     *field,
                 CompanionEntity target,
                 const char     *key,
                 GError        **error)
{
  if (g_hash_table_contains (f->index[target], key))
    return TRUE;
  return fail_at (error, COMPANION_FIXTURE_ERROR_REFERENCE, entity, position, id,
                  "“%s” refers to an unknown %s “%s”", field, companion_entity_to_string (target), key);
}

static gboolean
check_participants (Fixture        *f,
                    CompanionEntity entity,
                    guint           position,
                    JsonObject     *record,
                    GError        **error)
{
  JsonArray *participants = json_object_get_array_member (record, "participants");
  const char *id = json_object_get_string_member (record, "id");

  for (guint i = 0; i < json_array_get_length (participants); i++)
    if (!check_reference (f, entity, position, id, "participants", COMPANION_ENTITY_CONTACT,
                          json_array_get_string_element (participants, i), error))
      return FALSE;
  return TRUE;
}

static gboolean
check_references (Fixture *f,
                  GError **error)
{
  GPtrArray *chats = f->records[COMPANION_ENTITY_CHAT];
  GPtrArray *messages = f->records[COMPANION_ENTITY_MESSAGE];
  GPtrArray *calls = f->records[COMPANION_ENTITY_CALL];

  for (guint i = 0; i < chats->len; i++)
    if (!check_participants (f, COMPANION_ENTITY_CHAT, i, g_ptr_array_index (chats, i), error))
      return FALSE;
  for (guint i = 0; i < calls->len; i++)
    if (!check_participants (f, COMPANION_ENTITY_CALL, i, g_ptr_array_index (calls, i), error))
      return FALSE;

  for (guint i = 0; i < messages->len; i++)
    {
      JsonObject *record = g_ptr_array_index (messages, i);
      const char *id = json_object_get_string_member (record, "id");
      const char *chat = json_object_get_string_member (record, "chat");
      const char *from = json_object_get_string_member_with_default (record, "from", NULL);
      const char *media = json_object_get_string_member_with_default (record, "media", NULL);
      const char *reply_to = json_object_get_string_member_with_default (record, "reply_to", NULL);

      if (!check_reference (f, COMPANION_ENTITY_MESSAGE, i, id, "chat", COMPANION_ENTITY_CHAT, chat, error) ||
          (from != NULL &&
           !check_reference (f, COMPANION_ENTITY_MESSAGE, i, id, "from", COMPANION_ENTITY_CONTACT, from, error)) ||
          (media != NULL &&
           !check_reference (f, COMPANION_ENTITY_MESSAGE, i, id, "media", COMPANION_ENTITY_MEDIA, media, error)) ||
          (reply_to != NULL &&
           !check_reference (f, COMPANION_ENTITY_MESSAGE, i, id, "reply_to", COMPANION_ENTITY_MESSAGE, reply_to, error)))
        return FALSE;
      if (reply_to != NULL)
        {
          guint target = GPOINTER_TO_UINT (g_hash_table_lookup (f->index[COMPANION_ENTITY_MESSAGE], reply_to)) - 1;
          JsonObject *replied = g_ptr_array_index (messages, target);

          if (!g_str_equal (json_object_get_string_member (replied, "chat"), chat))
            return fail_at (error, COMPANION_FIXTURE_ERROR_REFERENCE, COMPANION_ENTITY_MESSAGE, i, id,
                            "“reply_to” refers to message “%s” of another chat", reply_to);
        }
      if (json_object_has_member (record, "reactions"))
        {
          JsonObjectIter iter;
          const char *who;

          json_object_iter_init (&iter, json_object_get_object_member (record, "reactions"));
          while (json_object_iter_next (&iter, &who, NULL))
            if (!g_str_equal (who, "me") &&
                !check_reference (f, COMPANION_ENTITY_MESSAGE, i, id, "reactions", COMPANION_ENTITY_CONTACT,
                                  who, error))
              return FALSE;
        }
    }
  return TRUE;
}

/* Messages in array order, except that a replied-to message comes before
 * its replies (the store checks each reply against what it holds). */
static gboolean
order_messages (Fixture   *f,
                GArray    *order,
                GError   **error)
{
  GPtrArray *messages = f->records[COMPANION_ENTITY_MESSAGE];
  g_autofree guint *state = g_new0 (guint, MAX (messages->len, 1)); /* 0 new, walk + 1, G_MAXUINT done */
  g_autoptr(GArray) chain = g_array_new (FALSE, FALSE, sizeof (guint));

  for (guint i = 0; i < messages->len; i++)
    {
      guint at = i;

      g_array_set_size (chain, 0);
      while (state[at] == 0)
        {
          const char *reply_to;

          state[at] = i + 1;
          g_array_append_val (chain, at);
          reply_to = json_object_get_string_member_with_default (g_ptr_array_index (messages, at), "reply_to", NULL);
          if (reply_to == NULL)
            break;
          at = GPOINTER_TO_UINT (g_hash_table_lookup (f->index[COMPANION_ENTITY_MESSAGE], reply_to)) - 1;
          if (state[at] == i + 1)
            return fail_at (error, COMPANION_FIXTURE_ERROR_REFERENCE, COMPANION_ENTITY_MESSAGE, at,
                            json_object_get_string_member (g_ptr_array_index (messages, at), "id"),
                            "“reply_to” makes a cycle of replies");
        }
      for (guint k = chain->len; k > 0; k--)
        {
          guint m = g_array_index (chain, guint, k - 1);
          state[m] = G_MAXUINT;
          g_array_append_val (order, m);
        }
    }
  return TRUE;
}

gboolean
companion_fixture_load (CompanionPhoneStore    *store,
                        const char             *path,
                        CompanionFixtureCounts *counts_out,
                        GError                **error)
{
  g_autofree char *contents = NULL;
  g_autofree char *dir = NULL;
  g_autoptr(JsonParser) parser = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autoptr(GPtrArray) changes = NULL;
  g_autoptr(GArray) order = NULL;
  JsonObject *root;
  JsonObjectIter iter;
  const char *member;
  JsonNode *value;
  Fixture f = { 0 };
  gboolean ok = FALSE;
  gsize length = 0;
  guint64 seq;

  g_return_val_if_fail (COMPANION_IS_PHONE_STORE (store), FALSE);
  g_return_val_if_fail (path != NULL, FALSE);

  if (!read_file (path, &contents, &length, error))
    return FALSE;
  parser = json_parser_new_immutable ();
  if (!json_parser_load_from_data (parser, contents, (gssize) length, &local_error))
    {
      g_set_error (error, COMPANION_FIXTURE_ERROR, COMPANION_FIXTURE_ERROR_INVALID,
                   "The fixture “%s” is not JSON: %s", path, local_error->message);
      return FALSE;
    }
  g_clear_pointer (&contents, g_free);
  if (json_parser_get_root (parser) == NULL || !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    {
      g_set_error (error, COMPANION_FIXTURE_ERROR, COMPANION_FIXTURE_ERROR_INVALID,
                   "The fixture “%s” is not a JSON object", path);
      return FALSE;
    }
  root = json_node_get_object (json_parser_get_root (parser));

  dir = g_path_get_dirname (path);
  f.dir = realpath (dir, NULL);
  if (f.dir == NULL)
    {
      int saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "Cannot resolve the folder of the fixture “%s”: %s", path, g_strerror (saved));
      return FALSE;
    }
  f.media_files = g_ptr_array_new_with_free_func (g_free);

  {
    JsonNode *version = json_object_get_member (root, "version");

    if (version == NULL || !JSON_NODE_HOLDS_VALUE (version) ||
        json_node_get_value_type (version) != G_TYPE_INT64 ||
        json_node_get_int (version) != COMPANION_FIXTURE_VERSION)
      {
        g_set_error (error, COMPANION_FIXTURE_ERROR, COMPANION_FIXTURE_ERROR_INVALID,
                     "The fixture “%s”: “version” must be %d", path, COMPANION_FIXTURE_VERSION);
        goto out;
      }
  }
  json_object_iter_init (&iter, root);
  while (json_object_iter_next (&iter, &member, &value))
    {
      guint s;

      if (g_str_equal (member, "version"))
        continue;
      for (s = 0; s < G_N_ELEMENTS (sections); s++)
        if (g_str_equal (member, sections[s].name))
          break;
      if (s == G_N_ELEMENTS (sections))
        {
          g_set_error (error, COMPANION_FIXTURE_ERROR, COMPANION_FIXTURE_ERROR_INVALID,
                       "The fixture “%s”: unknown member “%s”", path, member);
          goto out;
        }
      if (!JSON_NODE_HOLDS_ARRAY (value))
        {
          g_set_error (error, COMPANION_FIXTURE_ERROR, COMPANION_FIXTURE_ERROR_INVALID,
                       "The fixture “%s”: “%s” must be an array", path, member);
          goto out;
        }
      f.arrays[sections[s].entity] = json_node_get_array (value);
    }

  if (!check_records (&f, error) || !check_references (&f, error))
    goto out;
  order = g_array_new (FALSE, FALSE, sizeof (guint));
  if (!order_messages (&f, order, error))
    goto out;

  /* Checked: now the media files, then every record in one transaction. */
  for (guint i = 0; i < f.media_files->len; i++)
    {
      g_autofree char *hash = companion_phone_store_add_media_file (store, g_ptr_array_index (f.media_files, i), error);

      if (hash == NULL)
        goto out;
    }
  changes = g_ptr_array_new_with_free_func ((GDestroyNotify) companion_change_free);
  for (guint s = 0; s < G_N_ELEMENTS (sections); s++)
    {
      CompanionEntity entity = sections[s].entity;
      GPtrArray *records = f.records[entity];

      for (guint i = 0; i < records->len; i++)
        {
          guint at = entity == COMPANION_ENTITY_MESSAGE ? g_array_index (order, guint, i) : i;
          g_ptr_array_add (changes, companion_change_new_upsert (0, entity, g_ptr_array_index (records, at)));
        }
    }
  seq = companion_phone_store_apply (store, changes, error);
  if (seq == 0 && changes->len > 0)
    goto out;

  if (counts_out != NULL)
    {
      counts_out->contacts = f.records[COMPANION_ENTITY_CONTACT]->len;
      counts_out->chats = f.records[COMPANION_ENTITY_CHAT]->len;
      counts_out->messages = f.records[COMPANION_ENTITY_MESSAGE]->len;
      counts_out->media = f.records[COMPANION_ENTITY_MEDIA]->len;
      counts_out->calls = f.records[COMPANION_ENTITY_CALL]->len;
      counts_out->last_seq = seq;
    }
  ok = TRUE;

out:
  fixture_clear (&f);
  return ok;
}
