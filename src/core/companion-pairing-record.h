/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* What a device remembers about its paired peer, and the peers it refuses:
 * STATE_DIR/pairing.json (docs/protocol.md). It holds no secret. */
#define COMPANION_PAIRING_RECORD_FILENAME        "pairing.json"
#define COMPANION_PAIRING_RECORD_VERSION         1
#define COMPANION_PAIRING_RECORD_KEY_SIZE        32
#define COMPANION_PAIRING_RECORD_MAX_ADDRESSES   8
#define COMPANION_PAIRING_RECORD_MAX_DENIED      256
#define COMPANION_PAIRING_RECORD_MAX_NAME_LENGTH 128 /* bytes of UTF-8 */

#define COMPANION_PAIRING_RECORD_ERROR (companion_pairing_record_error_quark ())

typedef enum
{
  COMPANION_PAIRING_RECORD_ERROR_FAILED,
  /* The file is not a pairing record: its message names the file and field. */
  COMPANION_PAIRING_RECORD_ERROR_CORRUPT,
  COMPANION_PAIRING_RECORD_ERROR_UNSUPPORTED_VERSION,
  /* A value given to a setter is refused. */
  COMPANION_PAIRING_RECORD_ERROR_INVALID,
} CompanionPairingRecordError;

#define COMPANION_TYPE_PAIRING_RECORD (companion_pairing_record_get_type ())

G_DECLARE_FINAL_TYPE (CompanionPairingRecord, companion_pairing_record,
                      COMPANION, PAIRING_RECORD, GObject)

GQuark                  companion_pairing_record_error_quark (void);

/* An empty record: no peer, nobody denied. */
CompanionPairingRecord *companion_pairing_record_new    (void);
/* NULL with no error when there is no file. */
CompanionPairingRecord *companion_pairing_record_load   (const char              *state_dir,
                                                         GError                 **error);
/* Written 0600, atomically (temporary file, fsync, rename). */
/* The stored record, or an empty one (no peer, no denylist) when there is none. */
CompanionPairingRecord *companion_pairing_record_load_or_new (const char *state_dir,
                                                              GError    **error);
gboolean                companion_pairing_record_save   (CompanionPairingRecord  *self,
                                                         const char              *state_dir,
                                                         GError                 **error);
/* Unlinks on disk: the peer goes on the denylist and the file keeps only
 * the denylist. Nothing to do without a file; a corrupt file is an error and
 * is left as it is (its denylist would be lost). */
gboolean                companion_pairing_record_delete (const char              *state_dir,
                                                         GError                 **error);

/* The peer. */
gboolean      companion_pairing_record_has_peer            (CompanionPairingRecord  *self);
/* Sets a new peer, paired since PAIRED_SINCE (unix seconds) and seen then;
 * refuses a key on the denylist, an all-zero key and a name that is not
 * valid UTF-8 of at most 128 bytes without control characters. */
gboolean      companion_pairing_record_set_peer            (CompanionPairingRecord  *self,
                                                            const guint8            *public_key,
                                                            const char              *name,
                                                            gint64                   paired_since,
                                                            GError                 **error);
/* Puts the peer on the denylist and forgets it (DESIGN.md, Pairing 7). */
void          companion_pairing_record_unlink              (CompanionPairingRecord  *self);
/* 32 bytes, or NULL without a peer. */
const guint8 *companion_pairing_record_get_peer_public_key (CompanionPairingRecord  *self);
const char   *companion_pairing_record_get_peer_name       (CompanionPairingRecord  *self);
/* Needs a peer; the same rules as set_peer. */
gboolean      companion_pairing_record_set_peer_name       (CompanionPairingRecord  *self,
                                                            const char              *name,
                                                            GError                 **error);
gint64        companion_pairing_record_get_paired_since    (CompanionPairingRecord  *self);
gint64        companion_pairing_record_get_last_seen       (CompanionPairingRecord  *self);
/* Needs a peer; unix seconds. */
void          companion_pairing_record_set_last_seen       (CompanionPairingRecord  *self,
                                                            gint64                   unix_time);
/* The peer's "ADDR:PORT" addresses, best first, NULL-terminated (the phone
 * stores the desktop's and tries each when it reconnects). */
const char * const *
              companion_pairing_record_get_addresses       (CompanionPairingRecord  *self);
/* Needs a peer; replaces them with at most 8 IP literals with a port,
 * stored normalised. A refused list changes nothing. */
gboolean      companion_pairing_record_set_addresses       (CompanionPairingRecord  *self,
                                                            const char * const      *addresses,
                                                            GError                 **error);

/* The denylist of refused peer keys (32 bytes each), oldest first; adding to
 * a full list drops the oldest entry. */
gboolean      companion_pairing_record_is_denied           (CompanionPairingRecord  *self,
                                                            const guint8            *public_key);
void          companion_pairing_record_deny                (CompanionPairingRecord  *self,
                                                            const guint8            *public_key);
/* Lifts a refusal; TRUE if the key was denied. */
gboolean      companion_pairing_record_undeny              (CompanionPairingRecord  *self,
                                                            const guint8            *public_key);
guint         companion_pairing_record_get_n_denied        (CompanionPairingRecord  *self);
const guint8 *companion_pairing_record_get_denied          (CompanionPairingRecord  *self,
                                                            guint                    index);

G_END_DECLS
