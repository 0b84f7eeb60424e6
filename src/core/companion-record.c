/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "companion-record"

#include "config.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "companion-record.h"

G_DEFINE_QUARK (companion-record-error-quark, companion_record_error)

/* Times and sequence numbers stay exact in a double: at most 2^53. */
#define MAX_EXACT_INTEGER G_GINT64_CONSTANT (9007199254740992)
#define MAX_ID_LENGTH     64
#define HASH_LENGTH       64

static const char * const entity_names[COMPANION_N_ENTITIES] = {
  [COMPANION_ENTITY_CONTACT] = "contact",
  [COMPANION_ENTITY_CHAT] = "chat",
  [COMPANION_ENTITY_MESSAGE] = "message",
  [COMPANION_ENTITY_MEDIA] = "media",
  [COMPANION_ENTITY_CALL] = "call",
};

/* The fields each entity has, for the unknown-field rule. */
static const char * const contact_fields[] = { "id", "name", "phone", NULL };
static const char * const chat_fields[] = {
  "id", "kind", "title", "participants", "unread", "pinned", "muted", "archived", NULL
};
static const char * const message_fields[] = {
  "id", "chat", "from", "time", "text", "media", "reply_to", "status", "edited_at", "deleted",
  "reactions", NULL
};
static const char * const media_fields[] = {
  "hash", "kind", "mime", "name", "size", "width", "height", "duration_ms", "thumbnail", NULL
};
static const char * const call_fields[] = {
  "id", "kind", "direction", "missed", "time", "duration_s", "participants", NULL
};

static const char * const * const entity_fields[COMPANION_N_ENTITIES] = {
  [COMPANION_ENTITY_CONTACT] = contact_fields,
  [COMPANION_ENTITY_CHAT] = chat_fields,
  [COMPANION_ENTITY_MESSAGE] = message_fields,
  [COMPANION_ENTITY_MEDIA] = media_fields,
  [COMPANION_ENTITY_CALL] = call_fields,
};

static const char * const chat_kinds[] = { "direct", "group", NULL };
static const char * const message_statuses[] = { "pending", "sent", "delivered", "read", NULL };
static const char * const media_kinds[] = { "image", "video", "voice", "document", NULL };
static const char * const call_kinds[] = { "voice", "video", NULL };
static const char * const call_directions[] = { "incoming", "outgoing", NULL };

const char *
companion_entity_to_string (CompanionEntity entity)
{
  g_return_val_if_fail (entity < COMPANION_N_ENTITIES, NULL);

  return entity_names[entity];
}

gboolean
companion_entity_from_string (const char      *text,
                              CompanionEntity *entity_out)
{
  for (guint i = 0; text != NULL && i < COMPANION_N_ENTITIES; i++)
    if (g_str_equal (text, entity_names[i]))
      {
        if (entity_out != NULL)
          *entity_out = (CompanionEntity) i;
        return TRUE;
      }
  return FALSE;
}

static gboolean
is_id (const char *text)
{
  gsize len = 0;

  if (text == NULL)
    return FALSE;
  for (; text[len] != '\0'; len++)
    {
      char c = text[len];

      if (len >= MAX_ID_LENGTH || !(g_ascii_isalnum (c) || c == '-' || c == '_'))
        return FALSE;
    }
  return len > 0;
}

static gboolean
is_hash (const char *text)
{
  gsize len = 0;

  if (text == NULL)
    return FALSE;
  for (; text[len] != '\0'; len++)
    if (len >= HASH_LENGTH || !(g_ascii_isdigit (text[len]) || (text[len] >= 'a' && text[len] <= 'f')))
      return FALSE;
  return len == HASH_LENGTH;
}

gboolean
companion_record_id_is_valid (CompanionEntity  entity,
                              const char      *id)
{
  g_return_val_if_fail (entity < COMPANION_N_ENTITIES, FALSE);

  return entity == COMPANION_ENTITY_MEDIA ? is_hash (id) : is_id (id);
}

const char *
companion_json_get_string (JsonObject *object,
                           const char *member)
{
  JsonNode *node = json_object_get_member (object, member);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

const char *
companion_json_get_string_or (JsonObject *object,
                              const char *member,
                              const char *fallback)
{
  const char *value = companion_json_get_string (object, member);

  return value != NULL ? value : fallback;
}

gint64
companion_json_get_int (JsonObject *object,
                        const char *member,
                        gint64      fallback)
{
  JsonNode *node = json_object_get_member (object, member);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64)
    return fallback;
  return json_node_get_int (node);
}

const char *
companion_record_get_id (CompanionEntity  entity,
                         JsonObject      *record)
{
  g_return_val_if_fail (entity < COMPANION_N_ENTITIES, NULL);
  g_return_val_if_fail (record != NULL, NULL);

  return companion_json_get_string (record, entity == COMPANION_ENTITY_MEDIA ? "hash" : "id");
}

/* Canonical JSON */

static void
write_string (GString    *out,
              const char *text)
{
  g_autofree char *valid = NULL;

  /* Validated records are UTF-8; anything else is mended rather than
   * written as invalid JSON text. */
  if (!g_utf8_validate (text, -1, NULL))
    text = valid = g_utf8_make_valid (text, -1);

  g_string_append_c (out, '"');
  for (const guchar *p = (const guchar *) text; *p != '\0'; p++)
    {
      const guchar *run = p;

      /* Most text needs no escape: copy it a run at a time. */
      while (*p >= 0x20 && *p != '"' && *p != '\\')
        p++;
      if (p > run)
        g_string_append_len (out, (const char *) run, p - run);
      if (*p == '\0')
        break;
      switch (*p)
        {
        case '"':  g_string_append (out, "\\\""); break;
        case '\\': g_string_append (out, "\\\\"); break;
        case '\b': g_string_append (out, "\\b"); break;
        case '\f': g_string_append (out, "\\f"); break;
        case '\n': g_string_append (out, "\\n"); break;
        case '\r': g_string_append (out, "\\r"); break;
        case '\t': g_string_append (out, "\\t"); break;
        default:
          if (*p < 0x20)
            g_string_append_printf (out, "\\u%04x", *p);
          else
            g_string_append_c (out, (char) *p);
          break;
        }
    }
  g_string_append_c (out, '"');
}

/* As "%" G_GINT64_FORMAT would, without parsing a format for each of the
 * many times and sizes. */
static void
write_int (GString *out,
           gint64   value)
{
  char digits[24];
  guint64 magnitude = value < 0 ? (guint64) 0 - (guint64) value : (guint64) value;
  guint n = 0;

  do
    {
      digits[sizeof digits - 1 - n++] = (char) ('0' + magnitude % 10);
      magnitude /= 10;
    }
  while (magnitude > 0);
  if (value < 0)
    digits[sizeof digits - 1 - n++] = '-';
  g_string_append_len (out, digits + sizeof digits - n, n);
}

static void
write_scalar (GString  *out,
              JsonNode *node)
{
  if (JSON_NODE_HOLDS_NULL (node))
    {
      g_string_append (out, "null");
      return;
    }
  switch (json_node_get_value_type (node))
    {
    case G_TYPE_STRING:
      write_string (out, json_node_get_string (node));
      break;
    case G_TYPE_INT64:
      write_int (out, json_node_get_int (node));
      break;
    case G_TYPE_BOOLEAN:
      g_string_append (out, json_node_get_boolean (node) ? "true" : "false");
      break;
    case G_TYPE_DOUBLE:
      {
        double value = json_node_get_double (node);
        char buffer[G_ASCII_DTOSTR_BUF_SIZE];

        if (isfinite (value))
          g_string_append (out, g_ascii_formatd (buffer, sizeof buffer, "%.17g", value));
        else
          g_string_append (out, "null");
      }
      break;
    default:
      g_string_append (out, "null");
      break;
    }
}

int
companion_compare_strings (gconstpointer a,
                           gconstpointer b)
{
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

typedef struct
{
  const char *name;
  JsonNode   *node;
} Member;

/* Records have a dozen members at most: an insertion sort beats qsort. */
static void
sort_members (Member *members,
              guint   n)
{
  for (guint i = 1; i < n; i++)
    {
      Member member = members[i];
      guint j = i;

      for (; j > 0 && strcmp (members[j - 1].name, member.name) > 0; j--)
        members[j] = members[j - 1];
      members[j] = member;
    }
}

typedef struct
{
  JsonArray   *array;   /* or NULL for an object */
  Member      *members; /* the object's, sorted by name */
  guint        index;
  guint        length;
  gboolean     first;
} Frame;

/* Iterative, so that no nesting depth can exhaust the stack. */
static void
write_canonical (GString  *out,
                 JsonNode *root)
{
  g_autoptr(GArray) stack = g_array_new (FALSE, TRUE, sizeof (Frame));
  JsonNode *node = root;

  for (;;)
    {
      Frame *top;

      if (node != NULL)
        {
          Frame frame = { NULL, NULL, 0, 0, TRUE };

          if (JSON_NODE_HOLDS_OBJECT (node))
            {
              JsonObject *object = json_node_get_object (node);
              JsonObjectIter iter;
              const char *name;
              JsonNode *member;
              guint i = 0;

              /* Iterated in place (json_object_get_members() copies the
               * list), each name with its value: no lookups afterwards. */
              frame.length = json_object_get_size (object);
              frame.members = g_new (Member, frame.length + 1);
              json_object_iter_init (&iter, object);
              while (i < frame.length && json_object_iter_next (&iter, &name, &member))
                frame.members[i++] = (Member) { name, member };
              frame.length = i;
              sort_members (frame.members, frame.length);
              g_string_append_c (out, '{');
              g_array_append_val (stack, frame);
            }
          else if (JSON_NODE_HOLDS_ARRAY (node))
            {
              frame.array = json_node_get_array (node);
              frame.length = json_array_get_length (frame.array);
              g_string_append_c (out, '[');
              g_array_append_val (stack, frame);
            }
          else
            write_scalar (out, node);
          node = NULL;
        }

      if (stack->len == 0)
        break;
      top = &g_array_index (stack, Frame, stack->len - 1);
      if (top->index < top->length)
        {
          if (top->members != NULL)
            {
              Member *member = &top->members[top->index++];

              if (member->node == NULL || JSON_NODE_HOLDS_NULL (member->node))
                continue;
              if (!top->first)
                g_string_append_c (out, ',');
              write_string (out, member->name);
              g_string_append_c (out, ':');
              node = member->node;
            }
          else
            {
              if (!top->first)
                g_string_append_c (out, ',');
              node = json_array_get_element (top->array, top->index++);
            }
          top->first = FALSE;
        }
      else
        {
          g_string_append_c (out, top->members != NULL ? '}' : ']');
          g_free (top->members);
          g_array_set_size (stack, stack->len - 1);
        }
    }
}

static void
write_canonical_object (GString    *out,
                        JsonObject *object)
{
  g_autoptr(JsonNode) node = json_node_init_object (json_node_alloc (), object);

  write_canonical (out, node);
}

char *
companion_canonical_json (JsonNode *node,
                          gsize    *length_out)
{
  GString *out;

  g_return_val_if_fail (node != NULL, NULL);

  out = g_string_new (NULL);
  write_canonical (out, node);
  if (length_out != NULL)
    *length_out = out->len;
  return g_string_free (out, FALSE);
}

/* Validation */

typedef struct
{
  CompanionEntity  entity;
  const char      *id;      /* valid, so safe to print; or NULL */
  JsonObject      *record;
  GError         **error;
} Check;

static gboolean fail (Check      *check,
                      int         code,
                      const char *field,
                      const char *format,
                      ...) G_GNUC_PRINTF (4, 5);

/* "message “m-7”: “time” must be an integer" */
static gboolean
fail (Check      *check,
      int         code,
      const char *field,
      const char *format,
      ...)
{
  g_autofree char *rule = NULL;
  g_autofree char *subject = NULL;
  va_list args;

  va_start (args, format);
  rule = g_strdup_vprintf (format, args);
  va_end (args);

  if (check->id != NULL)
    subject = g_strdup_printf ("%s “%s”", entity_names[check->entity], check->id);
  else
    subject = g_strdup (entity_names[check->entity]);

  if (field != NULL)
    g_set_error (check->error, COMPANION_RECORD_ERROR, code, "%s: “%s” %s", subject, field, rule);
  else
    g_set_error (check->error, COMPANION_RECORD_ERROR, code, "%s: %s", subject, rule);
  return FALSE;
}

/* The member, or NULL when it is absent or null (which mean the same). */
static JsonNode *
get_member (Check      *check,
            const char *field)
{
  JsonNode *node = json_object_get_member (check->record, field);

  return node != NULL && !JSON_NODE_HOLDS_NULL (node) ? node : NULL;
}

static gboolean
holds (JsonNode *node,
       GType     type)
{
  return JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == type;
}

/* Looks FIELD up: FALSE with an error when it is required and absent. */
static gboolean
lookup (Check       *check,
        const char  *field,
        gboolean     optional,
        JsonNode   **node_out)
{
  *node_out = get_member (check, field);
  if (*node_out == NULL && !optional)
    return fail (check, COMPANION_RECORD_ERROR_MISSING_FIELD, field, "is missing");
  return TRUE;
}

static gboolean
get_int (Check      *check,
         const char *field,
         gboolean    optional,
         gint64      min,
         gint64      max,
         gboolean   *present_out,
         gint64     *value_out)
{
  JsonNode *node;

  *present_out = FALSE;
  *value_out = 0;
  if (!lookup (check, field, optional, &node))
    return FALSE;
  if (node == NULL)
    return TRUE;
  if (!holds (node, G_TYPE_INT64))
    return fail (check, COMPANION_RECORD_ERROR_INVALID_FIELD, field, "must be an integer");
  *value_out = json_node_get_int (node);
  if (*value_out < min || *value_out > max)
    return fail (check, COMPANION_RECORD_ERROR_INVALID_FIELD, field,
                 "must be from %" G_GINT64_FORMAT " to %" G_GINT64_FORMAT, min, max);
  *present_out = TRUE;
  return TRUE;
}

static gboolean
get_time (Check      *check,
          const char *field,
          gboolean    optional,
          gboolean   *present_out,
          gint64     *value_out)
{
  return get_int (check, field, optional, 0, MAX_EXACT_INTEGER, present_out, value_out);
}

static gboolean
get_bool (Check      *check,
          const char *field,
          gboolean   *value_out)
{
  JsonNode *node;

  *value_out = FALSE;
  if (!lookup (check, field, FALSE, &node))
    return FALSE;
  if (!holds (node, G_TYPE_BOOLEAN))
    return fail (check, COMPANION_RECORD_ERROR_INVALID_FIELD, field, "must be a boolean");
  *value_out = json_node_get_boolean (node);
  return TRUE;
}

/* A string of MIN to MAX bytes of UTF-8; *value_out is NULL when absent. */
static gboolean
get_string (Check       *check,
            const char  *field,
            gboolean     optional,
            gsize        min,
            gsize        max,
            const char **value_out)
{
  JsonNode *node;
  const char *value;
  gsize len;

  *value_out = NULL;
  if (!lookup (check, field, optional, &node))
    return FALSE;
  if (node == NULL)
    return TRUE;
  if (!holds (node, G_TYPE_STRING))
    return fail (check, COMPANION_RECORD_ERROR_INVALID_FIELD, field, "must be a string");
  value = json_node_get_string (node);
  len = strlen (value);
  if (len > max)
    return fail (check, COMPANION_RECORD_ERROR_TOO_LARGE, field, "is longer than %" G_GSIZE_FORMAT " bytes", max);
  if (!g_utf8_validate (value, len, NULL))
    return fail (check, COMPANION_RECORD_ERROR_INVALID_FIELD, field, "is not valid UTF-8");
  if (len < min)
    {
      if (min == 1)
        return fail (check, COMPANION_RECORD_ERROR_INVALID_FIELD, field, "must not be empty");
      return fail (check, COMPANION_RECORD_ERROR_INVALID_FIELD, field,
                   "must be at least %" G_GSIZE_FORMAT " bytes", min);
    }
  *value_out = value;
  return TRUE;
}

static gboolean
get_enum (Check              *check,
          const char         *field,
          gboolean            optional,
          const char * const *choices,
          const char        **value_out)
{
  g_autoptr(GString) list = NULL;
  const char *value;

  *value_out = NULL;
  if (!get_string (check, field, optional, 0, G_MAXSIZE, &value))
    return FALSE;
  if (value == NULL || g_strv_contains (choices, value))
    {
      *value_out = value;
      return TRUE;
    }

  list = g_string_new (NULL);
  for (guint i = 0; choices[i] != NULL; i++)
    {
      if (i > 0)
        g_string_append (list, choices[i + 1] == NULL ? " or " : ", ");
      g_string_append_printf (list, "“%s”", choices[i]);
    }
  return fail (check, COMPANION_RECORD_ERROR_INVALID_FIELD, field, "must be %s", list->str);
}

/* An id (a hash for media) in FIELD; *value_out is NULL when absent. */
static gboolean
get_ref (Check       *check,
         const char  *field,
         gboolean     optional,
         gboolean     hash,
         const char **value_out)
{
  JsonNode *node;
  const char *value;

  *value_out = NULL;
  if (!lookup (check, field, optional, &node))
    return FALSE;
  if (node == NULL)
    return TRUE;
  if (!holds (node, G_TYPE_STRING))
    return fail (check, COMPANION_RECORD_ERROR_INVALID_FIELD, field, "must be a string");
  value = json_node_get_string (node);
  if (hash && !is_hash (value))
    return fail (check, COMPANION_RECORD_ERROR_INVALID_FIELD, field, "must be 64 lowercase hex digits");
  if (!hash && !is_id (value))
    return fail (check, COMPANION_RECORD_ERROR_INVALID_FIELD, field,
                 "must be an id: 1 to 64 of A–Z, a–z, 0–9, “-” and “_”");
  *value_out = value;
  return TRUE;
}

/* A sorted array of MIN to MAX contact ids, without repeats. */
static gboolean
get_participants (Check      *check,
                  guint       min,
                  guint       max,
                  guint      *count_out)
{
  const char *field = "participants";
  const char *previous = NULL;
  JsonNode *node;
  JsonArray *array;
  guint length;

  *count_out = 0;
  if (!lookup (check, field, FALSE, &node))
    return FALSE;
  if (!JSON_NODE_HOLDS_ARRAY (node))
    return fail (check, COMPANION_RECORD_ERROR_INVALID_FIELD, field, "must be an array");
  array = json_node_get_array (node);
  length = json_array_get_length (array);
  if (length > max)
    return fail (check, COMPANION_RECORD_ERROR_TOO_LARGE, field, "has more than %u contacts", max);
  if (length < min)
    return fail (check, COMPANION_RECORD_ERROR_INVALID_FIELD, field, "must have at least %u contact%s",
                 min, min == 1 ? "" : "s");
  for (guint i = 0; i < length; i++)
    {
      JsonNode *item = json_array_get_element (array, i);
      const char *id;
      int order;

      if (!holds (item, G_TYPE_STRING) || !is_id (json_node_get_string (item)))
        return fail (check, COMPANION_RECORD_ERROR_INVALID_FIELD, field,
                     "item %u is not a contact id", i + 1);
      id = json_node_get_string (item);
      order = previous != NULL ? strcmp (previous, id) : -1;
      if (order == 0)
        return fail (check, COMPANION_RECORD_ERROR_INVALID_FIELD, field, "lists “%s” twice", id);
      if (order > 0)
        return fail (check, COMPANION_RECORD_ERROR_INVALID_FIELD, field,
                     "must be sorted (“%s” comes before “%s”)", id, previous);
      previous = id;
    }
  *count_out = length;
  return TRUE;
}

static gboolean
is_regional_indicator (gunichar c)
{
  return c >= 0x1F1E6 && c <= 0x1F1FF;
}

static gboolean
is_skin_tone (gunichar c)
{
  return c >= 0x1F3FB && c <= 0x1F3FF;
}

static gboolean
is_tag (gunichar c)
{
  return c >= 0xE0020 && c <= 0xE007E;
}

static gboolean
is_emoji_base (gunichar c)
{
  if (c < 0x80 || c == 0x200D || c == 0x20E3 || c == 0xFE0E || c == 0xFE0F ||
      is_skin_tone (c) || is_tag (c) || c == 0xE007F)
    return FALSE;
  switch (g_unichar_type (c))
    {
    case G_UNICODE_CONTROL:
    case G_UNICODE_FORMAT:
    case G_UNICODE_SURROGATE:
    case G_UNICODE_SPACE_SEPARATOR:
    case G_UNICODE_LINE_SEPARATOR:
    case G_UNICODE_PARAGRAPH_SEPARATOR:
    case G_UNICODE_NON_SPACING_MARK:
    case G_UNICODE_SPACING_MARK:
    case G_UNICODE_ENCLOSING_MARK:
      return FALSE;
    default:
      return TRUE;
    }
}

/* One emoji, loosely after Unicode TS #51: elements joined by ZWJ, each a
 * flag (two regional indicators), a keycap ([0-9#*] FE0F? 20E3) or a
 * non-ASCII base with an optional variation selector, skin tone and tag
 * sequence. TEXT is valid UTF-8 and not empty. */
static gboolean
is_one_emoji (const char *text)
{
  const char *p = text;

  for (;;)
    {
      gunichar c = g_utf8_get_char (p);

      p = g_utf8_next_char (p);
      if (is_regional_indicator (c))
        {
          if (!is_regional_indicator (g_utf8_get_char (p)))
            return FALSE;
          p = g_utf8_next_char (p);
        }
      else if (c < 0x80)
        {
          if (!g_ascii_isdigit (c) && c != '#' && c != '*')
            return FALSE;
          if (g_utf8_get_char (p) == 0xFE0F)
            p = g_utf8_next_char (p);
          if (g_utf8_get_char (p) != 0x20E3)
            return FALSE;
          p = g_utf8_next_char (p);
        }
      else
        {
          if (!is_emoji_base (c))
            return FALSE;
          if (g_utf8_get_char (p) == 0xFE0F || g_utf8_get_char (p) == 0xFE0E)
            p = g_utf8_next_char (p);
          if (is_skin_tone (g_utf8_get_char (p)))
            p = g_utf8_next_char (p);
          if (is_tag (g_utf8_get_char (p)))
            {
              while (is_tag (g_utf8_get_char (p)))
                p = g_utf8_next_char (p);
              if (g_utf8_get_char (p) != 0xE007F)
                return FALSE;
              p = g_utf8_next_char (p);
            }
        }

      if (*p == '\0')
        return TRUE;
      if (g_utf8_get_char (p) != 0x200D)
        return FALSE;
      p = g_utf8_next_char (p);
      if (*p == '\0')
        return FALSE;
    }
}

#define MAX_REACTIONS 1024
#define MAX_EMOJI_SIZE 32

static gboolean
check_reactions (Check *check)
{
  const char *field = "reactions";
  JsonObjectIter iter;
  const char *key;
  JsonNode *node;
  JsonObject *reactions;

  if (!lookup (check, field, TRUE, &node))
    return FALSE;
  if (node == NULL)
    return TRUE;
  if (!JSON_NODE_HOLDS_OBJECT (node))
    return fail (check, COMPANION_RECORD_ERROR_INVALID_FIELD, field, "must be an object");
  reactions = json_node_get_object (node);
  if (json_object_get_size (reactions) > MAX_REACTIONS)
    return fail (check, COMPANION_RECORD_ERROR_TOO_LARGE, field, "has more than %u keys", MAX_REACTIONS);

  json_object_iter_init (&iter, reactions);
  while (json_object_iter_next (&iter, &key, &node))
    {
      const char *emoji;
      gsize len;

      if (!is_id (key))
        return fail (check, COMPANION_RECORD_ERROR_INVALID_FIELD, field,
                     "has a key that is neither a contact id nor “me”");
      if (!holds (node, G_TYPE_STRING))
        return fail (check, COMPANION_RECORD_ERROR_INVALID_FIELD, field,
                     "value for “%s” must be a string", key);
      emoji = json_node_get_string (node);
      len = strlen (emoji);
      if (len > MAX_EMOJI_SIZE)
        return fail (check, COMPANION_RECORD_ERROR_TOO_LARGE, field,
                     "value for “%s” is longer than %u bytes", key, MAX_EMOJI_SIZE);
      if (len == 0 || !g_utf8_validate (emoji, len, NULL) || !is_one_emoji (emoji))
        return fail (check, COMPANION_RECORD_ERROR_INVALID_FIELD, field,
                     "value for “%s” must be one emoji", key);
    }
  return TRUE;
}

static gboolean
validate_contact (Check *check)
{
  const char *name, *phone;

  if (!get_string (check, "name", FALSE, 1, 256, &name) ||
      !get_string (check, "phone", TRUE, 1, 32, &phone))
    return FALSE;
  for (const char *p = phone; p != NULL && *p != '\0'; p++)
    if (!g_ascii_isdigit (*p) && strchr ("+ ()-", *p) == NULL)
      return fail (check, COMPANION_RECORD_ERROR_INVALID_FIELD, "phone",
                   "may hold only digits, “+”, “-”, “(”, “)” and spaces");
  return TRUE;
}

static gboolean
validate_chat (Check *check)
{
  const char *kind, *title;
  gboolean present, flag;
  gint64 unread;
  guint count;

  if (!get_enum (check, "kind", FALSE, chat_kinds, &kind) ||
      !get_string (check, "title", FALSE, 0, 256, &title) ||
      !get_participants (check, 1, 1024, &count))
    return FALSE;
  if (g_str_equal (kind, "direct") && count != 1)
    return fail (check, COMPANION_RECORD_ERROR_INVALID_FIELD, "participants",
                 "must have exactly 1 contact in a direct chat");
  if (!get_int (check, "unread", FALSE, 0, 1000000, &present, &unread) ||
      !get_bool (check, "pinned", &flag) ||
      !get_bool (check, "muted", &flag) ||
      !get_bool (check, "archived", &flag))
    return FALSE;
  return TRUE;
}

static gboolean
validate_message (Check *check)
{
  const char *chat, *from, *text, *media, *reply_to, *status;
  gboolean present, deleted;
  gint64 time;

  if (!get_ref (check, "chat", FALSE, FALSE, &chat) ||
      !get_ref (check, "from", TRUE, FALSE, &from) ||
      !get_time (check, "time", FALSE, &present, &time) ||
      !get_string (check, "text", FALSE, 0, 49152, &text) ||
      !get_ref (check, "media", TRUE, TRUE, &media) ||
      !get_ref (check, "reply_to", TRUE, FALSE, &reply_to) ||
      !get_enum (check, "status", TRUE, message_statuses, &status) ||
      !get_time (check, "edited_at", TRUE, &present, &time) ||
      !get_bool (check, "deleted", &deleted) ||
      !check_reactions (check))
    return FALSE;

  if (deleted && *text != '\0')
    return fail (check, COMPANION_RECORD_ERROR_INVALID_FIELD, "text", "must be empty in a deleted message");
  if (deleted && media != NULL)
    return fail (check, COMPANION_RECORD_ERROR_INVALID_FIELD, "media", "must be absent in a deleted message");
  if (!deleted && *text == '\0' && media == NULL)
    return fail (check, COMPANION_RECORD_ERROR_INVALID_FIELD, "text",
                 "may be empty only with “media” or in a deleted message");
  if (status != NULL && from != NULL)
    return fail (check, COMPANION_RECORD_ERROR_INVALID_FIELD, "status",
                 "is for outgoing messages only, and this one has “from”");
  if (reply_to != NULL && check->id != NULL && g_str_equal (reply_to, check->id))
    return fail (check, COMPANION_RECORD_ERROR_INVALID_FIELD, "reply_to", "must not be the message itself");
  return TRUE;
}

/* RFC 6838 restricted-name characters, for the two halves of a MIME type. */
static gboolean
is_mime_token (const char *start,
               const char *end)
{
  if (start == end)
    return FALSE;
  for (const char *p = start; p < end; p++)
    if (!g_ascii_isalnum (*p) && strchr ("!#$&^_.+-", *p) == NULL)
      return FALSE;
  return TRUE;
}

/* Standard base64 of a PNG: the inline thumbnail of docs/records.md. */
static gboolean
is_base64_png (const char *text)
{
  static const guint8 signature[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
  g_autofree guint8 *decoded = NULL;
  gsize len = strlen (text), padding = 0, decoded_len = 0;

  if (len == 0 || len % 4 != 0)
    return FALSE;
  while (padding < 2 && text[len - 1 - padding] == '=')
    padding++;
  for (gsize i = 0; i < len - padding; i++)
    if (!g_ascii_isalnum (text[i]) && text[i] != '+' && text[i] != '/')
      return FALSE;
  decoded = g_base64_decode (text, &decoded_len);
  return decoded_len >= sizeof signature && memcmp (decoded, signature, sizeof signature) == 0;
}

static gboolean
validate_media (Check *check)
{
  const char *kind, *mime, *name, *slash, *thumbnail;
  gboolean present, visual, timed;
  gint64 value;

  if (!get_enum (check, "kind", FALSE, media_kinds, &kind) ||
      !get_string (check, "mime", FALSE, 3, 128, &mime))
    return FALSE;
  slash = strchr (mime, '/');
  if (slash == NULL || !is_mime_token (mime, slash) || !is_mime_token (slash + 1, mime + strlen (mime)))
    return fail (check, COMPANION_RECORD_ERROR_INVALID_FIELD, "mime", "must be “type/subtype”");
  if (!get_string (check, "name", FALSE, 1, 256, &name))
    return FALSE;
  if (strchr (name, '/') != NULL)
    return fail (check, COMPANION_RECORD_ERROR_INVALID_FIELD, "name", "must not contain “/”");
  if (!get_int (check, "size", FALSE, 1, G_GINT64_CONSTANT (4) << 30, &present, &value))
    return FALSE;

  visual = g_str_equal (kind, "image") || g_str_equal (kind, "video");
  timed = g_str_equal (kind, "voice") || g_str_equal (kind, "video");
  if (!get_int (check, "width", TRUE, 1, 65535, &present, &value))
    return FALSE;
  if (present && !visual)
    return fail (check, COMPANION_RECORD_ERROR_INVALID_FIELD, "width", "is for images and videos only");
  if (!get_int (check, "height", TRUE, 1, 65535, &present, &value))
    return FALSE;
  if (present && !visual)
    return fail (check, COMPANION_RECORD_ERROR_INVALID_FIELD, "height", "is for images and videos only");
  if (!get_int (check, "duration_ms", TRUE, 1, 86400000, &present, &value))
    return FALSE;
  if (present && !timed)
    return fail (check, COMPANION_RECORD_ERROR_INVALID_FIELD, "duration_ms", "is for voice and video only");
  if (!get_string (check, "thumbnail", TRUE, 1, COMPANION_MEDIA_THUMBNAIL_MAX_BASE64, &thumbnail))
    return FALSE;
  if (thumbnail != NULL && !visual)
    return fail (check, COMPANION_RECORD_ERROR_INVALID_FIELD, "thumbnail", "is for images and videos only");
  if (thumbnail != NULL && !is_base64_png (thumbnail))
    return fail (check, COMPANION_RECORD_ERROR_INVALID_FIELD, "thumbnail", "must be a PNG image in base64");
  return TRUE;
}

static gboolean
validate_call (Check *check)
{
  const char *kind, *direction;
  gboolean present, missed;
  gint64 value;
  guint count;

  if (!get_enum (check, "kind", FALSE, call_kinds, &kind) ||
      !get_enum (check, "direction", FALSE, call_directions, &direction) ||
      !get_bool (check, "missed", &missed))
    return FALSE;
  if (missed && g_str_equal (direction, "outgoing"))
    return fail (check, COMPANION_RECORD_ERROR_INVALID_FIELD, "missed", "must be false for an outgoing call");
  if (!get_time (check, "time", FALSE, &present, &value) ||
      !get_int (check, "duration_s", FALSE, 0, 86400, &present, &value))
    return FALSE;
  if (missed && value != 0)
    return fail (check, COMPANION_RECORD_ERROR_INVALID_FIELD, "duration_s", "must be 0 for a missed call");
  return get_participants (check, 1, 64, &count);
}

gboolean
companion_record_validate (CompanionEntity   entity,
                           JsonObject       *record,
                           GError          **error)
{
  g_autofree char *canonical = companion_record_to_canonical (entity, record, NULL, error);

  return canonical != NULL;
}

char *
companion_record_to_canonical (CompanionEntity   entity,
                               JsonObject       *record,
                               gsize            *length_out,
                               GError          **error)
{
  Check check = { entity, NULL, record, error };
  const char *id_field = entity == COMPANION_ENTITY_MEDIA ? "hash" : "id";
  const char *id;
  JsonObjectIter iter;
  const char *name;
  JsonNode *node;
  gboolean valid = FALSE;
  GString *canonical;

  g_return_val_if_fail (entity < COMPANION_N_ENTITIES, NULL);
  g_return_val_if_fail (record != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!get_ref (&check, id_field, FALSE, entity == COMPANION_ENTITY_MEDIA, &id))
    return NULL;
  check.id = id;

  json_object_iter_init (&iter, record);
  while (json_object_iter_next (&iter, &name, &node))
    if (!g_strv_contains (entity_fields[entity], name))
      {
        if (is_id (name))
          fail (&check, COMPANION_RECORD_ERROR_UNKNOWN_FIELD, name, "is not a field of a %s",
                entity_names[entity]);
        else
          fail (&check, COMPANION_RECORD_ERROR_UNKNOWN_FIELD, NULL, "has a field it does not know");
        return NULL;
      }

  switch (entity)
    {
    case COMPANION_ENTITY_CONTACT: valid = validate_contact (&check); break;
    case COMPANION_ENTITY_CHAT:    valid = validate_chat (&check); break;
    case COMPANION_ENTITY_MESSAGE: valid = validate_message (&check); break;
    case COMPANION_ENTITY_MEDIA:   valid = validate_media (&check); break;
    case COMPANION_ENTITY_CALL:    valid = validate_call (&check); break;
    case COMPANION_N_ENTITIES:
    default:
      g_assert_not_reached ();
    }
  if (!valid)
    return NULL;

  canonical = g_string_sized_new (256);
  write_canonical_object (canonical, record);
  if (canonical->len > COMPANION_RECORD_MAX_SIZE)
    {
      g_string_free (canonical, TRUE);
      fail (&check, COMPANION_RECORD_ERROR_TOO_LARGE, NULL,
            "the record is larger than %u bytes", COMPANION_RECORD_MAX_SIZE);
      return NULL;
    }
  if (length_out != NULL)
    *length_out = canonical->len;
  return g_string_free (canonical, FALSE);
}

/* Change log */

G_DEFINE_BOXED_TYPE (CompanionChange, companion_change, companion_change_copy, companion_change_free)

CompanionChange *
companion_change_new_upsert (guint64          seq,
                             CompanionEntity  entity,
                             JsonObject      *record)
{
  CompanionChange *change;

  g_return_val_if_fail (entity < COMPANION_N_ENTITIES, NULL);
  g_return_val_if_fail (record != NULL, NULL);

  change = g_new0 (CompanionChange, 1);
  change->seq = seq;
  change->entity = entity;
  change->id = g_strdup (companion_record_get_id (entity, record));
  change->record = json_object_ref (record);
  return change;
}

CompanionChange *
companion_change_new_delete (guint64          seq,
                             CompanionEntity  entity,
                             const char      *id)
{
  CompanionChange *change;

  g_return_val_if_fail (entity < COMPANION_N_ENTITIES, NULL);
  g_return_val_if_fail (id != NULL, NULL);

  change = g_new0 (CompanionChange, 1);
  change->seq = seq;
  change->is_delete = TRUE;
  change->entity = entity;
  change->id = g_strdup (id);
  return change;
}

CompanionChange *
companion_change_copy (CompanionChange *change)
{
  CompanionChange *copy;

  g_return_val_if_fail (change != NULL, NULL);

  copy = g_memdup2 (change, sizeof *change);
  copy->id = g_strdup (change->id);
  if (change->record != NULL)
    copy->record = json_object_ref (change->record);
  return copy;
}

void
companion_change_free (CompanionChange *change)
{
  if (change == NULL)
    return;
  g_free (change->id);
  g_clear_pointer (&change->record, json_object_unref);
  g_free (change);
}

static CompanionChange *
change_fail (guint64      seq,
             GError     **error,
             int          code,
             const char  *format,
             ...) G_GNUC_PRINTF (4, 5);

static CompanionChange *
change_fail (guint64      seq,
             GError     **error,
             int          code,
             const char  *format,
             ...)
{
  g_autofree char *rule = NULL;
  va_list args;

  va_start (args, format);
  rule = g_strdup_vprintf (format, args);
  va_end (args);
  if (seq != 0)
    g_set_error (error, COMPANION_RECORD_ERROR, code, "change %" G_GUINT64_FORMAT ": %s", seq, rule);
  else
    g_set_error (error, COMPANION_RECORD_ERROR, code, "change: %s", rule);
  return NULL;
}

CompanionChange *
companion_change_parse (JsonObject  *object,
                        GError     **error)
{
  const int invalid = COMPANION_RECORD_ERROR_INVALID_CHANGE;
  JsonObjectIter iter;
  const char *name, *op, *entity_name;
  JsonNode *node;
  CompanionEntity entity;
  gboolean is_delete;
  guint64 seq = 0;

  g_return_val_if_fail (object != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  node = json_object_get_member (object, "seq");
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return change_fail (0, error, invalid, "“seq” is missing");
  if (!holds (node, G_TYPE_INT64) || json_node_get_int (node) < 1 || json_node_get_int (node) > MAX_EXACT_INTEGER)
    return change_fail (0, error, invalid, "“seq” must be an integer from 1 to %" G_GINT64_FORMAT,
                        MAX_EXACT_INTEGER);
  seq = (guint64) json_node_get_int (node);

  node = json_object_get_member (object, "op");
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return change_fail (seq, error, invalid, "“op” is missing");
  op = holds (node, G_TYPE_STRING) ? json_node_get_string (node) : "";
  if (!g_str_equal (op, "upsert") && !g_str_equal (op, "delete"))
    return change_fail (seq, error, invalid, "“op” must be “upsert” or “delete”");
  is_delete = g_str_equal (op, "delete");

  node = json_object_get_member (object, "entity");
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return change_fail (seq, error, invalid, "“entity” is missing");
  if (!holds (node, G_TYPE_STRING))
    return change_fail (seq, error, invalid, "“entity” must be a string");
  entity_name = json_node_get_string (node);
  if (!companion_entity_from_string (entity_name, &entity))
    return change_fail (seq, error, COMPANION_RECORD_ERROR_UNKNOWN_ENTITY,
                        "“entity” must be “contact”, “chat”, “message”, “media” or “call”");

  json_object_iter_init (&iter, object);
  while (json_object_iter_next (&iter, &name, &node))
    if (!g_str_equal (name, "seq") && !g_str_equal (name, "op") && !g_str_equal (name, "entity") &&
        !g_str_equal (name, is_delete ? "id" : "record"))
      {
        if (is_id (name))
          return change_fail (seq, error, invalid, "“%s” does not belong in %s %s change",
                              name, is_delete ? "a" : "an", op);
        return change_fail (seq, error, invalid, "has a member it does not know");
      }

  if (is_delete)
    {
      const char *id;

      node = json_object_get_member (object, "id");
      if (node == NULL || JSON_NODE_HOLDS_NULL (node))
        return change_fail (seq, error, invalid, "“id” is missing");
      id = holds (node, G_TYPE_STRING) ? json_node_get_string (node) : NULL;
      if (!companion_record_id_is_valid (entity, id))
        return change_fail (seq, error, invalid, "“id” must be %s",
                            entity == COMPANION_ENTITY_MEDIA ? "64 lowercase hex digits" : "an id");
      return companion_change_new_delete (seq, entity, id);
    }

  node = json_object_get_member (object, "record");
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return change_fail (seq, error, invalid, "“record” is missing");
  if (!JSON_NODE_HOLDS_OBJECT (node))
    return change_fail (seq, error, invalid, "“record” must be an object");
  if (!companion_record_validate (entity, json_node_get_object (node), error))
    {
      g_prefix_error (error, "change %" G_GUINT64_FORMAT ": ", seq);
      return NULL;
    }
  return companion_change_new_upsert (seq, entity, json_node_get_object (node));
}

JsonObject *
companion_change_to_json (CompanionChange *change)
{
  JsonObject *object;

  g_return_val_if_fail (change != NULL, NULL);
  g_return_val_if_fail (change->entity < COMPANION_N_ENTITIES, NULL);

  object = json_object_new ();
  json_object_set_int_member (object, "seq", (gint64) change->seq);
  json_object_set_string_member (object, "op", change->is_delete ? "delete" : "upsert");
  json_object_set_string_member (object, "entity", entity_names[change->entity]);
  if (change->is_delete)
    json_object_set_string_member (object, "id", change->id);
  else
    json_object_set_object_member (object, "record", json_object_ref (change->record));
  return object;
}

/* Canonical export */

struct _CompanionExport
{
  GHashTable *records[COMPANION_N_ENTITIES];  /* id → JsonObject */
};

CompanionExport *
companion_export_new (void)
{
  CompanionExport *self = g_new0 (CompanionExport, 1);

  for (guint i = 0; i < COMPANION_N_ENTITIES; i++)
    self->records[i] = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                              (GDestroyNotify) json_object_unref);
  return self;
}

void
companion_export_free (CompanionExport *self)
{
  if (self == NULL)
    return;
  for (guint i = 0; i < COMPANION_N_ENTITIES; i++)
    g_clear_pointer (&self->records[i], g_hash_table_unref);
  g_free (self);
}

void
companion_export_add (CompanionExport *self,
                      CompanionEntity  entity,
                      JsonObject      *record)
{
  const char *id;

  g_return_if_fail (self != NULL);
  g_return_if_fail (entity < COMPANION_N_ENTITIES);
  g_return_if_fail (record != NULL);

  id = companion_record_get_id (entity, record);
  g_hash_table_replace (self->records[entity], g_strdup (id != NULL ? id : ""), json_object_ref (record));
}

char *
companion_export_to_string (CompanionExport *self,
                            gsize           *length_out)
{
  /* In the byte order of their keys. */
  static const struct { const char *key; CompanionEntity entity; } sections[] = {
    { "calls", COMPANION_ENTITY_CALL },
    { "chats", COMPANION_ENTITY_CHAT },
    { "contacts", COMPANION_ENTITY_CONTACT },
    { "media", COMPANION_ENTITY_MEDIA },
    { "messages", COMPANION_ENTITY_MESSAGE },
  };
  GString *out;

  g_return_val_if_fail (self != NULL, NULL);

  out = g_string_new ("{");
  for (gsize i = 0; i < G_N_ELEMENTS (sections); i++)
    {
      GHashTable *records = self->records[sections[i].entity];
      guint n_ids = 0;
      g_autofree const char **ids = (const char **) g_hash_table_get_keys_as_array (records, &n_ids);

      qsort (ids, n_ids, sizeof (const char *), companion_compare_strings);
      g_string_append_printf (out, "\"%s\":[", sections[i].key);
      for (guint j = 0; j < n_ids; j++)
        {
          if (j > 0)
            g_string_append_c (out, ',');
          write_canonical_object (out, g_hash_table_lookup (records, ids[j]));
        }
      g_string_append (out, "],");
    }
  g_string_append (out, "\"version\":1}\n");
  if (length_out != NULL)
    *length_out = out->len;
  return g_string_free (out, FALSE);
}
