/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "companion-pairing-record"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <sodium.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "companion-network.h"
#include "companion-pairing-record.h"
#include "companion-state-dir.h"

/* The file format (docs/protocol.md):
 *   { "version": 1,
 *     "peer": { "public-key": HEX, "name": TEXT, "paired-since": SECONDS,
 *               "last-seen": SECONDS, "addresses": [ "ADDR:PORT", … ] },
 *     "denylist": [ HEX, … ] }
 * "peer" is absent when unlinked. Unknown members are ignored. */
#define MAX_FILE_SIZE  (64 * 1024)
#define MAX_DEPTH      8
#define MAX_ADDRESS    64
#define MAX_UNIX_TIME  G_GINT64_CONSTANT (253402300799) /* 9999-12-31 */
#define KEY_SIZE       COMPANION_PAIRING_RECORD_KEY_SIZE

typedef struct
{
  guint8 key[KEY_SIZE];
} DeniedKey;

struct _CompanionPairingRecord
{
  GObject    parent_instance;

  gboolean   has_peer;
  guint8     peer_public_key[KEY_SIZE];
  char      *peer_name;
  gint64     paired_since;
  gint64     last_seen;
  GPtrArray *addresses; /* char *, NULL-terminated */
  GArray    *denylist;  /* DeniedKey, oldest first */
};

G_DEFINE_FINAL_TYPE (CompanionPairingRecord, companion_pairing_record, G_TYPE_OBJECT)
G_DEFINE_QUARK (companion-pairing-record-error-quark, companion_pairing_record_error)

/* Helpers */

static char *
record_path (const char *state_dir)
{
  return g_build_filename (state_dir, COMPANION_PAIRING_RECORD_FILENAME, NULL);
}

static gboolean
check_name (const char  *name,
            const char **why)
{
  if (strlen (name) > COMPANION_PAIRING_RECORD_MAX_NAME_LENGTH)
    {
      *why = "is longer than 128 bytes";
      return FALSE;
    }
  if (!g_utf8_validate (name, -1, NULL))
    {
      *why = "is not valid UTF-8";
      return FALSE;
    }
  for (const char *p = name; *p != '\0'; p = g_utf8_next_char (p))
    if (g_unichar_iscntrl (g_utf8_get_char (p)))
      {
        *why = "contains control characters";
        return FALSE;
      }
  return TRUE;
}

/* The normalised form of an address, or NULL. */
static char *
normalise_address (const char  *text,
                   const char **why)
{
  g_autoptr(GInetSocketAddress) address = NULL;

  if (strlen (text) > MAX_ADDRESS)
    {
      *why = "is too long for an address";
      return NULL;
    }
  address = companion_network_parse_listen_address (text, NULL);
  if (address == NULL)
    {
      *why = "is not ADDR:PORT with an IP address";
      return NULL;
    }
  if (g_inet_socket_address_get_port (address) == 0)
    {
      *why = "has port 0";
      return NULL;
    }
  return companion_network_address_to_string (address);
}

static gboolean
parse_key (const char *hex,
           guint8     *key)
{
  size_t bin_len = 0;
  const char *end = NULL;

  if (strlen (hex) != KEY_SIZE * 2)
    return FALSE;
  if (sodium_hex2bin (key, KEY_SIZE, hex, KEY_SIZE * 2, NULL, &bin_len, &end) != 0 ||
      bin_len != KEY_SIZE || *end != '\0')
    return FALSE;
  return !sodium_is_zero (key, KEY_SIZE);
}

static char *
key_to_hex (const guint8 *key)
{
  char hex[KEY_SIZE * 2 + 1];

  sodium_bin2hex (hex, sizeof hex, key, KEY_SIZE);
  return g_strdup (hex);
}

static gint
find_denied (CompanionPairingRecord *self,
             const guint8           *key)
{
  for (guint i = 0; i < self->denylist->len; i++)
    if (memcmp (g_array_index (self->denylist, DeniedKey, i).key, key, KEY_SIZE) == 0)
      return (gint) i;
  return -1;
}

static void
clear_peer (CompanionPairingRecord *self)
{
  self->has_peer = FALSE;
  memset (self->peer_public_key, 0, KEY_SIZE);
  g_clear_pointer (&self->peer_name, g_free);
  self->paired_since = 0;
  self->last_seen = 0;
  g_ptr_array_set_size (self->addresses, 0);
  g_ptr_array_add (self->addresses, NULL);
}

/* Refuses nesting deeper than MAX_DEPTH before json-glib's recursive parser
 * sees it, so a hostile file cannot exhaust the stack. */
static gboolean
check_depth (const char *data,
             gsize       len)
{
  gboolean in_string = FALSE;
  guint depth = 0;

  for (gsize i = 0; i < len; i++)
    {
      char c = data[i];

      if (in_string)
        {
          if (c == '\\')
            i++;
          else if (c == '"')
            in_string = FALSE;
        }
      else if (c == '"')
        in_string = TRUE;
      else if (c == '[' || c == '{')
        {
          if (++depth > MAX_DEPTH)
            return FALSE;
        }
      else if ((c == ']' || c == '}') && depth > 0)
        depth--;
    }
  return TRUE;
}

/* Reads at most MAX_FILE_SIZE bytes of a regular file; NULL with no error
 * when it does not exist. */
static GBytes *
read_record_file (const char  *path,
                  GError     **error)
{
  g_autoptr(GByteArray) buffer = NULL;
  struct stat st;
  int fd;

  fd = open (path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0)
    {
      int saved = errno;

      if (saved != ENOENT)
        g_set_error (error, COMPANION_PAIRING_RECORD_ERROR, COMPANION_PAIRING_RECORD_ERROR_FAILED,
                     "Cannot open the pairing record “%s”: %s", path, g_strerror (saved));
      return NULL;
    }

  if (fstat (fd, &st) != 0 || !S_ISREG (st.st_mode))
    {
      g_set_error (error, COMPANION_PAIRING_RECORD_ERROR, COMPANION_PAIRING_RECORD_ERROR_CORRUPT,
                   "The pairing record “%s” is not a regular file", path);
      close (fd);
      return NULL;
    }

  buffer = g_byte_array_sized_new (MIN ((gsize) st.st_size, MAX_FILE_SIZE) + 1);
  for (;;)
    {
      guint8 chunk[4096];
      gssize n = read (fd, chunk, sizeof chunk);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          int saved = errno;

          g_set_error (error, COMPANION_PAIRING_RECORD_ERROR, COMPANION_PAIRING_RECORD_ERROR_FAILED,
                       "Cannot read the pairing record “%s”: %s", path, g_strerror (saved));
          close (fd);
          return NULL;
        }
      if (n == 0)
        break;
      g_byte_array_append (buffer, chunk, (guint) n);
      if (buffer->len > MAX_FILE_SIZE)
        {
          g_set_error (error, COMPANION_PAIRING_RECORD_ERROR,
                       COMPANION_PAIRING_RECORD_ERROR_CORRUPT,
                       "The pairing record “%s” is larger than %d bytes", path, MAX_FILE_SIZE);
          close (fd);
          return NULL;
        }
    }
  close (fd);

  return g_byte_array_free_to_bytes (g_steal_pointer (&buffer));
}

G_GNUC_PRINTF (3, 4)
static void
set_corrupt (GError    **error,
             const char *path,
             const char *format,
             ...)
{
  g_autofree char *detail = NULL;
  va_list args;

  va_start (args, format);
  detail = g_strdup_vprintf (format, args);
  va_end (args);

  g_set_error (error, COMPANION_PAIRING_RECORD_ERROR, COMPANION_PAIRING_RECORD_ERROR_CORRUPT,
               "The pairing record “%s” is not valid: %s", path, detail);
}

/* The member NAME of OBJECT when it is a JSON integer in [0, MAX_UNIX_TIME]. */
static gboolean
get_time_member (JsonObject  *object,
                 const char  *name,
                 const char  *path,
                 gint64      *out,
                 GError     **error)
{
  JsonNode *node = json_object_get_member (object, name);

  if (node == NULL)
    {
      set_corrupt (error, path, "“peer.%s” is missing", name);
      return FALSE;
    }
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64)
    {
      set_corrupt (error, path, "“peer.%s” must be an integer (seconds since 1970)", name);
      return FALSE;
    }
  *out = json_node_get_int (node);
  if (*out < 0 || *out > MAX_UNIX_TIME)
    {
      set_corrupt (error, path, "“peer.%s” is out of range", name);
      return FALSE;
    }
  return TRUE;
}

/* The member NAME of OBJECT when it is a JSON string. */
static const char *
get_string_member (JsonObject  *object,
                   const char  *name,
                   const char  *path,
                   GError     **error)
{
  JsonNode *node = json_object_get_member (object, name);

  if (node == NULL)
    {
      set_corrupt (error, path, "“peer.%s” is missing", name);
      return NULL;
    }
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    {
      set_corrupt (error, path, "“peer.%s” must be a string", name);
      return NULL;
    }
  return json_node_get_string (node);
}

static gboolean
parse_peer (CompanionPairingRecord  *self,
            JsonNode                *node,
            const char              *path,
            GError                 **error)
{
  JsonObject *peer;
  JsonNode *addresses_node;
  JsonArray *addresses;
  const char *text;
  const char *why = NULL;

  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      set_corrupt (error, path, "“peer” must be an object");
      return FALSE;
    }
  peer = json_node_get_object (node);

  if ((text = get_string_member (peer, "public-key", path, error)) == NULL)
    return FALSE;
  if (!parse_key (text, self->peer_public_key))
    {
      set_corrupt (error, path, "“peer.public-key” is not a key (64 hexadecimal digits)");
      return FALSE;
    }

  if ((text = get_string_member (peer, "name", path, error)) == NULL)
    return FALSE;
  if (!check_name (text, &why))
    {
      set_corrupt (error, path, "“peer.name” %s", why);
      return FALSE;
    }
  self->peer_name = g_strdup (text);

  if (!get_time_member (peer, "paired-since", path, &self->paired_since, error) ||
      !get_time_member (peer, "last-seen", path, &self->last_seen, error))
    return FALSE;

  addresses_node = json_object_get_member (peer, "addresses");
  if (addresses_node == NULL)
    {
      set_corrupt (error, path, "“peer.addresses” is missing");
      return FALSE;
    }
  if (!JSON_NODE_HOLDS_ARRAY (addresses_node))
    {
      set_corrupt (error, path, "“peer.addresses” must be an array");
      return FALSE;
    }
  addresses = json_node_get_array (addresses_node);
  if (json_array_get_length (addresses) > COMPANION_PAIRING_RECORD_MAX_ADDRESSES)
    {
      set_corrupt (error, path, "“peer.addresses” has more than %d entries",
                   COMPANION_PAIRING_RECORD_MAX_ADDRESSES);
      return FALSE;
    }

  g_ptr_array_set_size (self->addresses, 0);
  for (guint i = 0; i < json_array_get_length (addresses); i++)
    {
      JsonNode *element = json_array_get_element (addresses, i);
      char *normalised;

      if (!JSON_NODE_HOLDS_VALUE (element) || json_node_get_value_type (element) != G_TYPE_STRING)
        {
          set_corrupt (error, path, "“peer.addresses[%u]” must be a string", i);
          return FALSE;
        }
      normalised = normalise_address (json_node_get_string (element), &why);
      if (normalised == NULL)
        {
          set_corrupt (error, path, "“peer.addresses[%u]” %s", i, why);
          return FALSE;
        }
      g_ptr_array_add (self->addresses, normalised);
    }
  g_ptr_array_add (self->addresses, NULL);

  self->has_peer = TRUE;
  return TRUE;
}

static gboolean
parse_denylist (CompanionPairingRecord  *self,
                JsonNode                *node,
                const char              *path,
                GError                 **error)
{
  JsonArray *array;

  if (node == NULL)
    {
      set_corrupt (error, path, "“denylist” is missing");
      return FALSE;
    }
  if (!JSON_NODE_HOLDS_ARRAY (node))
    {
      set_corrupt (error, path, "“denylist” must be an array");
      return FALSE;
    }
  array = json_node_get_array (node);
  if (json_array_get_length (array) > COMPANION_PAIRING_RECORD_MAX_DENIED)
    {
      set_corrupt (error, path, "“denylist” has more than %d entries",
                   COMPANION_PAIRING_RECORD_MAX_DENIED);
      return FALSE;
    }

  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonNode *element = json_array_get_element (array, i);
      DeniedKey denied;

      if (!JSON_NODE_HOLDS_VALUE (element) || json_node_get_value_type (element) != G_TYPE_STRING ||
          !parse_key (json_node_get_string (element), denied.key))
        {
          set_corrupt (error, path, "“denylist[%u]” is not a key (64 hexadecimal digits)", i);
          return FALSE;
        }
      if (find_denied (self, denied.key) < 0)
        g_array_append_val (self->denylist, denied);
    }
  return TRUE;
}

static CompanionPairingRecord *
parse_record (GBytes      *bytes,
              const char  *path,
              GError     **error)
{
  g_autoptr(CompanionPairingRecord) self = NULL;
  g_autoptr(JsonParser) parser = NULL;
  g_autoptr(GError) local_error = NULL;
  const char *data;
  gsize len;
  JsonNode *root;
  JsonNode *node;
  JsonObject *object;
  gint64 version;

  data = g_bytes_get_data (bytes, &len);
  if (len == 0)
    {
      set_corrupt (error, path, "the file is empty");
      return NULL;
    }
  if (!g_utf8_validate_len (data, len, NULL))
    {
      set_corrupt (error, path, "it is not UTF-8 text");
      return NULL;
    }
  if (!check_depth (data, len))
    {
      set_corrupt (error, path, "it is nested more than %d levels deep", MAX_DEPTH);
      return NULL;
    }

  parser = json_parser_new_immutable ();
  if (!json_parser_load_from_data (parser, data, (gssize) len, &local_error))
    {
      /* json-glib may quote the offending bytes, which need not be UTF-8. */
      g_autofree char *detail = g_utf8_make_valid (local_error->message, -1);

      set_corrupt (error, path, "it is not JSON: %s", detail);
      return NULL;
    }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      set_corrupt (error, path, "it is not a JSON object");
      return NULL;
    }
  object = json_node_get_object (root);

  node = json_object_get_member (object, "version");
  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_INT64)
    {
      set_corrupt (error, path, "“version” must be an integer");
      return NULL;
    }
  version = json_node_get_int (node);
  if (version != COMPANION_PAIRING_RECORD_VERSION)
    {
      g_set_error (error, COMPANION_PAIRING_RECORD_ERROR,
                   COMPANION_PAIRING_RECORD_ERROR_UNSUPPORTED_VERSION,
                   "The pairing record “%s” has version %" G_GINT64_FORMAT
                   ", which this version of Companion does not know (it knows %d)",
                   path, version, COMPANION_PAIRING_RECORD_VERSION);
      return NULL;
    }

  self = companion_pairing_record_new ();

  node = json_object_get_member (object, "peer");
  if (node != NULL && !JSON_NODE_HOLDS_NULL (node) && !parse_peer (self, node, path, error))
    return NULL;
  if (!parse_denylist (self, json_object_get_member (object, "denylist"), path, error))
    return NULL;

  return g_steal_pointer (&self);
}

static char *
serialise (CompanionPairingRecord *self,
           gsize                  *length)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "version");
  json_builder_add_int_value (builder, COMPANION_PAIRING_RECORD_VERSION);

  if (self->has_peer)
    {
      g_autofree char *hex = key_to_hex (self->peer_public_key);

      json_builder_set_member_name (builder, "peer");
      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "public-key");
      json_builder_add_string_value (builder, hex);
      json_builder_set_member_name (builder, "name");
      json_builder_add_string_value (builder, self->peer_name);
      json_builder_set_member_name (builder, "paired-since");
      json_builder_add_int_value (builder, self->paired_since);
      json_builder_set_member_name (builder, "last-seen");
      json_builder_add_int_value (builder, self->last_seen);
      json_builder_set_member_name (builder, "addresses");
      json_builder_begin_array (builder);
      for (guint i = 0; i + 1 < self->addresses->len; i++)
        json_builder_add_string_value (builder, g_ptr_array_index (self->addresses, i));
      json_builder_end_array (builder);
      json_builder_end_object (builder);
    }

  json_builder_set_member_name (builder, "denylist");
  json_builder_begin_array (builder);
  for (guint i = 0; i < self->denylist->len; i++)
    {
      g_autofree char *hex = key_to_hex (g_array_index (self->denylist, DeniedKey, i).key);

      json_builder_add_string_value (builder, hex);
    }
  json_builder_end_array (builder);
  json_builder_end_object (builder);

  root = json_builder_get_root (builder);
  json_generator_set_root (generator, root);
  json_generator_set_pretty (generator, TRUE);
  return json_generator_to_data (generator, length);
}

/* GObject */

static void
companion_pairing_record_finalize (GObject *object)
{
  CompanionPairingRecord *self = COMPANION_PAIRING_RECORD (object);

  g_clear_pointer (&self->peer_name, g_free);
  g_clear_pointer (&self->addresses, g_ptr_array_unref);
  g_clear_pointer (&self->denylist, g_array_unref);

  G_OBJECT_CLASS (companion_pairing_record_parent_class)->finalize (object);
}

static void
companion_pairing_record_class_init (CompanionPairingRecordClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = companion_pairing_record_finalize;
}

static void
companion_pairing_record_init (CompanionPairingRecord *self)
{
  self->addresses = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (self->addresses, NULL);
  self->denylist = g_array_new (FALSE, TRUE, sizeof (DeniedKey));
}

CompanionPairingRecord *
companion_pairing_record_new (void)
{
  return g_object_new (COMPANION_TYPE_PAIRING_RECORD, NULL);
}

/* Loading and saving */

CompanionPairingRecord *
companion_pairing_record_load (const char  *state_dir,
                               GError     **error)
{
  g_autofree char *path = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GError) local_error = NULL;

  g_return_val_if_fail (state_dir != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  path = record_path (state_dir);
  bytes = read_record_file (path, &local_error);
  if (bytes == NULL)
    {
      if (local_error != NULL)
        g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }

  return parse_record (bytes, path, error);
}

gboolean
companion_pairing_record_save (CompanionPairingRecord  *self,
                               const char              *state_dir,
                               GError                 **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *path = NULL;
  g_autofree char *data = NULL;
  gsize length = 0;

  g_return_val_if_fail (COMPANION_IS_PAIRING_RECORD (self), FALSE);
  g_return_val_if_fail (state_dir != NULL && state_dir[0] != '\0', FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  path = record_path (state_dir);
  dir = companion_state_dir_ensure (state_dir, "companion", &local_error);
  if (dir == NULL)
    {
      g_set_error (error, COMPANION_PAIRING_RECORD_ERROR, COMPANION_PAIRING_RECORD_ERROR_FAILED,
                   "Cannot save the pairing record “%s”: %s", path, local_error->message);
      return FALSE;
    }

  data = serialise (self, &length);
  if (!g_file_set_contents_full (path, data, (gssize) length,
                                 G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE,
                                 0600, &local_error))
    {
      g_set_error (error, COMPANION_PAIRING_RECORD_ERROR, COMPANION_PAIRING_RECORD_ERROR_FAILED,
                   "Cannot save the pairing record “%s”: %s", path, local_error->message);
      return FALSE;
    }
  companion_state_dir_sync (dir);

  return TRUE;
}

gboolean
companion_pairing_record_delete (const char  *state_dir,
                                 GError     **error)
{
  g_autoptr(CompanionPairingRecord) self = NULL;
  g_autoptr(GError) local_error = NULL;

  g_return_val_if_fail (state_dir != NULL && state_dir[0] != '\0', FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  self = companion_pairing_record_load (state_dir, &local_error);
  if (self == NULL)
    {
      if (local_error != NULL)
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return FALSE;
        }
      return TRUE;
    }

  companion_pairing_record_unlink (self);
  return companion_pairing_record_save (self, state_dir, error);
}

/* The peer */

gboolean
companion_pairing_record_has_peer (CompanionPairingRecord *self)
{
  g_return_val_if_fail (COMPANION_IS_PAIRING_RECORD (self), FALSE);

  return self->has_peer;
}

gboolean
companion_pairing_record_set_peer (CompanionPairingRecord  *self,
                                   const guint8            *public_key,
                                   const char              *name,
                                   gint64                   paired_since,
                                   GError                 **error)
{
  const char *why = NULL;

  g_return_val_if_fail (COMPANION_IS_PAIRING_RECORD (self), FALSE);
  g_return_val_if_fail (public_key != NULL, FALSE);
  g_return_val_if_fail (name != NULL, FALSE);
  g_return_val_if_fail (paired_since >= 0 && paired_since <= MAX_UNIX_TIME, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (sodium_is_zero (public_key, KEY_SIZE))
    {
      g_set_error_literal (error, COMPANION_PAIRING_RECORD_ERROR,
                           COMPANION_PAIRING_RECORD_ERROR_INVALID,
                           "The peer's public key is all zeros");
      return FALSE;
    }
  if (find_denied (self, public_key) >= 0)
    {
      g_set_error_literal (error, COMPANION_PAIRING_RECORD_ERROR,
                           COMPANION_PAIRING_RECORD_ERROR_INVALID,
                           "This device was unlinked and is refused from now on");
      return FALSE;
    }
  if (!check_name (name, &why))
    {
      g_set_error (error, COMPANION_PAIRING_RECORD_ERROR, COMPANION_PAIRING_RECORD_ERROR_INVALID,
                   "The device name %s", why);
      return FALSE;
    }

  clear_peer (self);
  self->has_peer = TRUE;
  memcpy (self->peer_public_key, public_key, KEY_SIZE);
  self->peer_name = g_strdup (name);
  self->paired_since = paired_since;
  self->last_seen = paired_since;

  return TRUE;
}

void
companion_pairing_record_unlink (CompanionPairingRecord *self)
{
  g_return_if_fail (COMPANION_IS_PAIRING_RECORD (self));

  if (self->has_peer)
    companion_pairing_record_deny (self, self->peer_public_key);
  clear_peer (self);
}

const guint8 *
companion_pairing_record_get_peer_public_key (CompanionPairingRecord *self)
{
  g_return_val_if_fail (COMPANION_IS_PAIRING_RECORD (self), NULL);

  return self->has_peer ? self->peer_public_key : NULL;
}

const char *
companion_pairing_record_get_peer_name (CompanionPairingRecord *self)
{
  g_return_val_if_fail (COMPANION_IS_PAIRING_RECORD (self), NULL);

  return self->peer_name;
}

gboolean
companion_pairing_record_set_peer_name (CompanionPairingRecord  *self,
                                        const char              *name,
                                        GError                 **error)
{
  const char *why = NULL;

  g_return_val_if_fail (COMPANION_IS_PAIRING_RECORD (self), FALSE);
  g_return_val_if_fail (self->has_peer, FALSE);
  g_return_val_if_fail (name != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_name (name, &why))
    {
      g_set_error (error, COMPANION_PAIRING_RECORD_ERROR, COMPANION_PAIRING_RECORD_ERROR_INVALID,
                   "The device name %s", why);
      return FALSE;
    }
  g_free (self->peer_name);
  self->peer_name = g_strdup (name);

  return TRUE;
}

gint64
companion_pairing_record_get_paired_since (CompanionPairingRecord *self)
{
  g_return_val_if_fail (COMPANION_IS_PAIRING_RECORD (self), 0);

  return self->paired_since;
}

gint64
companion_pairing_record_get_last_seen (CompanionPairingRecord *self)
{
  g_return_val_if_fail (COMPANION_IS_PAIRING_RECORD (self), 0);

  return self->last_seen;
}

void
companion_pairing_record_set_last_seen (CompanionPairingRecord *self,
                                        gint64                  unix_time)
{
  g_return_if_fail (COMPANION_IS_PAIRING_RECORD (self));
  g_return_if_fail (self->has_peer);
  g_return_if_fail (unix_time >= 0 && unix_time <= MAX_UNIX_TIME);

  self->last_seen = unix_time;
}

const char * const *
companion_pairing_record_get_addresses (CompanionPairingRecord *self)
{
  g_return_val_if_fail (COMPANION_IS_PAIRING_RECORD (self), NULL);

  return (const char * const *) self->addresses->pdata;
}

gboolean
companion_pairing_record_set_addresses (CompanionPairingRecord  *self,
                                        const char * const      *addresses,
                                        GError                 **error)
{
  g_autoptr(GPtrArray) normalised = NULL;

  g_return_val_if_fail (COMPANION_IS_PAIRING_RECORD (self), FALSE);
  g_return_val_if_fail (self->has_peer, FALSE);
  g_return_val_if_fail (addresses != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (g_strv_length ((char **) addresses) > COMPANION_PAIRING_RECORD_MAX_ADDRESSES)
    {
      g_set_error (error, COMPANION_PAIRING_RECORD_ERROR, COMPANION_PAIRING_RECORD_ERROR_INVALID,
                   "More than %d addresses", COMPANION_PAIRING_RECORD_MAX_ADDRESSES);
      return FALSE;
    }

  normalised = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; addresses[i] != NULL; i++)
    {
      const char *why = NULL;
      char *address = normalise_address (addresses[i], &why);

      if (address == NULL)
        {
          g_autofree char *cut = g_strndup (addresses[i], MAX_ADDRESS);
          g_autofree char *shown = g_utf8_make_valid (cut, -1);

          g_set_error (error, COMPANION_PAIRING_RECORD_ERROR,
                       COMPANION_PAIRING_RECORD_ERROR_INVALID,
                       "The address “%s” %s", shown, why);
          return FALSE;
        }
      g_ptr_array_add (normalised, address);
    }
  g_ptr_array_add (normalised, NULL);

  g_ptr_array_unref (self->addresses);
  self->addresses = g_steal_pointer (&normalised);

  return TRUE;
}

/* The denylist */

gboolean
companion_pairing_record_is_denied (CompanionPairingRecord *self,
                                    const guint8           *public_key)
{
  g_return_val_if_fail (COMPANION_IS_PAIRING_RECORD (self), FALSE);
  g_return_val_if_fail (public_key != NULL, FALSE);

  return find_denied (self, public_key) >= 0;
}

void
companion_pairing_record_deny (CompanionPairingRecord *self,
                               const guint8           *public_key)
{
  DeniedKey denied;

  g_return_if_fail (COMPANION_IS_PAIRING_RECORD (self));
  g_return_if_fail (public_key != NULL);

  if (find_denied (self, public_key) >= 0)
    return;
  if (self->denylist->len >= COMPANION_PAIRING_RECORD_MAX_DENIED)
    g_array_remove_index (self->denylist, 0);
  memcpy (denied.key, public_key, KEY_SIZE);
  g_array_append_val (self->denylist, denied);
}

gboolean
companion_pairing_record_undeny (CompanionPairingRecord *self,
                                 const guint8           *public_key)
{
  gint index;

  g_return_val_if_fail (COMPANION_IS_PAIRING_RECORD (self), FALSE);
  g_return_val_if_fail (public_key != NULL, FALSE);

  index = find_denied (self, public_key);
  if (index < 0)
    return FALSE;
  g_array_remove_index (self->denylist, (guint) index);
  return TRUE;
}

guint
companion_pairing_record_get_n_denied (CompanionPairingRecord *self)
{
  g_return_val_if_fail (COMPANION_IS_PAIRING_RECORD (self), 0);

  return self->denylist->len;
}

const guint8 *
companion_pairing_record_get_denied (CompanionPairingRecord *self,
                                     guint                   index)
{
  g_return_val_if_fail (COMPANION_IS_PAIRING_RECORD (self), NULL);
  g_return_val_if_fail (index < self->denylist->len, NULL);

  return g_array_index (self->denylist, DeniedKey, index).key;
}

CompanionPairingRecord *
companion_pairing_record_load_or_new (const char *state_dir,
                                      GError    **error)
{
  g_autoptr(GError) local_error = NULL;
  CompanionPairingRecord *record;

  g_return_val_if_fail (state_dir != NULL, NULL);

  record = companion_pairing_record_load (state_dir, &local_error);
  if (record != NULL)
    return record;
  if (local_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }
  return companion_pairing_record_new ();
}
