/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* The records of docs/records.md: one validator and one canonical writer
 * for the phone, the desktop, the fixtures and the exports. */

typedef enum
{
  COMPANION_ENTITY_CONTACT,
  COMPANION_ENTITY_CHAT,
  COMPANION_ENTITY_MESSAGE,
  COMPANION_ENTITY_MEDIA,
  COMPANION_ENTITY_CALL,
  COMPANION_N_ENTITIES
} CompanionEntity;

#define COMPANION_RECORD_ERROR (companion_record_error_quark ())

typedef enum
{
  COMPANION_RECORD_ERROR_UNKNOWN_ENTITY,  /* "entity" is none of the five */
  COMPANION_RECORD_ERROR_UNKNOWN_FIELD,   /* a field the entity does not have */
  COMPANION_RECORD_ERROR_MISSING_FIELD,   /* a required field is absent */
  COMPANION_RECORD_ERROR_INVALID_FIELD,   /* wrong type, or a value outside its rule */
  COMPANION_RECORD_ERROR_TOO_LARGE,       /* a string, array or record over its limit */
  COMPANION_RECORD_ERROR_INVALID_CHANGE,  /* a change without seq/op/entity/record/id as required */
} CompanionRecordError;

/* The most bytes a record's canonical JSON may take: with its envelope it
 * must fit in one Noise transport message (65 519 bytes of plaintext). */
#define COMPANION_RECORD_MAX_SIZE (60 * 1024)

/* An inline thumbnail: a PNG of at most 8 KiB, as base64. */
#define COMPANION_MEDIA_THUMBNAIL_MAX_BYTES  8192
#define COMPANION_MEDIA_THUMBNAIL_MAX_BASE64 (4 * ((COMPANION_MEDIA_THUMBNAIL_MAX_BYTES + 2) / 3))

GQuark           companion_record_error_quark    (void);

const char      *companion_entity_to_string      (CompanionEntity  entity);
gboolean         companion_entity_from_string    (const char      *text,
                                                  CompanionEntity *entity_out);

/* Checks RECORD against the rules of ENTITY in docs/records.md. References
 * to other records (a message's chat, media, reply) are the store's to
 * check. Errors name the entity, its id when known, and the field:
 * "message “m-7”: “time” must be an integer". */
gboolean         companion_record_validate       (CompanionEntity  entity,
                                                  JsonObject      *record,
                                                  GError         **error);
/* Validates RECORD as companion_record_validate() does and returns its
 * canonical JSON (companion_canonical_json()), written once for both the
 * size check and the caller; NULL with ERROR set when RECORD is invalid. */
char            *companion_record_to_canonical   (CompanionEntity  entity,
                                                  JsonObject      *record,
                                                  gsize           *length_out,
                                                  GError         **error);
/* Whether ID has the syntax of ENTITY's ids: 1–64 of [A-Za-z0-9_-], or 64
 * lowercase hex digits for media. */
gboolean         companion_record_id_is_valid    (CompanionEntity  entity,
                                                  const char      *id);
/* MEMBER of OBJECT when it is a string; NULL when it is absent or anything
 * else. For JSON from a peer: json_object_get_string_member_with_default()
 * logs a critical when the member is an object or an array. */
const char      *companion_json_get_string       (JsonObject      *object,
                                                  const char      *member);
/* The same with FALLBACK for anything but a string. */
const char      *companion_json_get_string_or    (JsonObject      *object,
                                                  const char      *member,
                                                  const char      *fallback);
/* MEMBER of OBJECT when it is an integer; FALLBACK when it is absent or
 * anything else (a fraction, a string, an object…). */
gint64           companion_json_get_int          (JsonObject      *object,
                                                  const char      *member,
                                                  gint64           fallback);
/* For qsort() and g_ptr_array_sort() of strings: by their bytes. */
int              companion_compare_strings       (gconstpointer    a,
                                                  gconstpointer    b);
/* "id", or "hash" for media; NULL when absent. */
const char      *companion_record_get_id         (CompanionEntity  entity,
                                                  JsonObject      *record);

/* Canonical JSON of NODE (docs/records.md, "Canonical export"): keys sorted
 * by their bytes at every level, null members left out, no whitespace. */
char            *companion_canonical_json        (JsonNode        *node,
                                                  gsize           *length_out);

/* One entry of the change log. */
typedef struct
{
  guint64          seq;
  gboolean         is_delete;
  CompanionEntity  entity;
  char            *id;      /* the record's id (its hash for media) */
  JsonObject      *record;  /* upserts only; NULL for a delete */
} CompanionChange;

#define COMPANION_TYPE_CHANGE (companion_change_get_type ())

GType            companion_change_get_type       (void) G_GNUC_CONST;
CompanionChange *companion_change_new_upsert     (guint64          seq,
                                                  CompanionEntity  entity,
                                                  JsonObject      *record);
CompanionChange *companion_change_new_delete     (guint64          seq,
                                                  CompanionEntity  entity,
                                                  const char      *id);
CompanionChange *companion_change_copy           (CompanionChange *change);
void             companion_change_free           (CompanionChange *change);
/* Parses {"seq", "op", "entity", "record" | "id"} and validates the record. */
CompanionChange *companion_change_parse          (JsonObject      *object,
                                                  GError         **error);
JsonObject      *companion_change_to_json        (CompanionChange *change);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CompanionChange, companion_change_free)

/* Collects records and writes the canonical export. */
typedef struct _CompanionExport CompanionExport;

CompanionExport *companion_export_new            (void);
void             companion_export_free           (CompanionExport *self);
/* Takes a reference on RECORD; a record with the id (hash) of one already
 * added replaces it: the last one wins. It does not validate. */
void             companion_export_add            (CompanionExport *self,
                                                  CompanionEntity  entity,
                                                  JsonObject      *record);
/* {"calls":[…],"chats":[…],"contacts":[…],"media":[…],"messages":[…],"version":1}
 * with each array sorted by id (media by hash), then "\n". */
char            *companion_export_to_string      (CompanionExport *self,
                                                  gsize           *length_out);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CompanionExport, companion_export_free)

G_END_DECLS
