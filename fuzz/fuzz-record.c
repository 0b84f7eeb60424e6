/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Protocol records (src/core/companion-record.c): JSON from the peer parsed
 * as a change ({"seq","op","entity","record"|"id"}) and, when it names an
 * entity, validated as that entity's record. A change that parses writes
 * back to JSON that parses to the same change, and a valid record's
 * canonical JSON is within the record limit and canonical again. */
#include "config.h"

#include "companion-record.h"
#include "fuzz-input.h"

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

static void
check_change (JsonObject *object)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CompanionChange) change = companion_change_parse (object, &error);
  g_autoptr(JsonObject) written = NULL;
  g_autoptr(CompanionChange) again = NULL;

  if (change == NULL)
    {
      g_assert (error != NULL && error->domain == COMPANION_RECORD_ERROR);
      return;
    }
  g_assert (companion_record_id_is_valid (change->entity, change->id));
  written = companion_change_to_json (change);
  again = companion_change_parse (written, &error);
  g_assert_no_error (error);
  g_assert (again->seq == change->seq && again->is_delete == change->is_delete &&
            again->entity == change->entity && g_str_equal (again->id, change->id));
}

static void
check_record (JsonObject *object)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonParser) parser = NULL;
  g_autofree char *canonical = NULL, *twice = NULL;
  CompanionEntity entity;
  JsonNode *record = json_object_get_member (object, "record");
  const char *name = companion_json_get_string (object, "entity");
  gsize length = 0, length2 = 0;

  if (name == NULL || !companion_entity_from_string (name, &entity) ||
      record == NULL || !JSON_NODE_HOLDS_OBJECT (record))
    return;
  if (!companion_record_validate (entity, json_node_get_object (record), &error))
    {
      g_assert (error != NULL && error->domain == COMPANION_RECORD_ERROR);
      return;
    }
  g_assert (companion_record_get_id (entity, json_node_get_object (record)) != NULL);
  canonical = companion_canonical_json (record, &length);
  g_assert (length <= COMPANION_RECORD_MAX_SIZE);
  parser = json_parser_new_immutable ();
  g_assert (json_parser_load_from_data (parser, canonical, (gssize) length, NULL));
  twice = companion_canonical_json (json_parser_get_root (parser), &length2);
  g_assert (length == length2 && g_str_equal (canonical, twice));
}

int
LLVMFuzzerTestOneInput (const guint8 *data,
                        size_t        size)
{
  g_autoptr(JsonParser) parser = json_parser_new_immutable ();
  JsonNode *root;

  fuzz_init ();
  if (!json_parser_load_from_data (parser, (const char *) data, (gssize) size, NULL))
    return 0;
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    return 0;
  check_change (json_node_get_object (root));
  check_record (json_node_get_object (root));
  return 0;
}
