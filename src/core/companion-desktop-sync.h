/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "companion-desktop-server.h"
#include "companion-mirror-store.h"

G_BEGIN_DECLS

#define COMPANION_TYPE_DESKTOP_SYNC (companion_desktop_sync_get_type ())

/* The largest file the desktop sends to the phone: 2 GiB. */
#define COMPANION_DESKTOP_SYNC_MAX_FILE_SIZE (G_GUINT64_CONSTANT (2) * 1024 * 1024 * 1024)

#define COMPANION_DESKTOP_SYNC_ERROR (companion_desktop_sync_error_quark ())

/* Why a file cannot be sent. */
typedef enum
{
  COMPANION_DESKTOP_SYNC_ERROR_NOT_FOUND,     /* there is no such file */
  COMPANION_DESKTOP_SYNC_ERROR_NOT_REGULAR,   /* a folder, or another kind of special file */
  COMPANION_DESKTOP_SYNC_ERROR_UNREADABLE,    /* no permission to read it, or reading failed */
  COMPANION_DESKTOP_SYNC_ERROR_TOO_LARGE,     /* over COMPANION_DESKTOP_SYNC_MAX_FILE_SIZE */
  COMPANION_DESKTOP_SYNC_ERROR_EMPTY,         /* 0 bytes: a media item has at least one */
  COMPANION_DESKTOP_SYNC_ERROR_UNKNOWN_CHAT,  /* the mirror has no such chat */
  COMPANION_DESKTOP_SYNC_ERROR_INVALID,       /* a caption that is too long or not UTF-8 */
} CompanionDesktopSyncError;

G_DECLARE_FINAL_TYPE (CompanionDesktopSync, companion_desktop_sync, COMPANION, DESKTOP_SYNC, GObject)

GQuark                companion_desktop_sync_error_quark (void);

/* The desktop's side of sync (docs/protocol.md, "Sync"): asks the paired
 * phone for everything after its cursor whenever it connects, applies
 * snapshot pages and change batches to the mirror, and acknowledges each
 * after it is committed. Signals: "progress" (entity name, records in the
 * page), "synced" (guint64 cursor: the snapshot is complete or a batch of
 * changes was committed), "failed" (GError: a page or batch was refused and
 * not applied; nothing already stored is lost), "command-done" (client
 * id), "command-failed" (client id, GError), "upload-progress" (client id,
 * guint64 bytes the phone has, guint64 size: a file being sent),
 * "changes-applied" (GPtrArray of CompanionChange: a live batch just
 * committed; never emitted for snapshot pages, so a first sync is not
 * mistaken for news). */
CompanionDesktopSync *companion_desktop_sync_new (CompanionDesktopServer *server,
                                                  CompanionMirrorStore   *store);
/* TRUE when the mirror holds every change the phone last said it had
 * ("head" in its batches); FALSE until the phone has said. */
gboolean              companion_desktop_sync_is_up_to_date (CompanionDesktopSync *self);
/* Asks the phone to carry out EVENT ("message-out", "read", "react",
 * "delete" or "edit", with the fields of docs/phone-simulator.md). The
 * command waits in the persistent outbox until the phone acknowledges it,
 * sent again at each connection; its client id, returned, makes a repeat
 * harmless. Its result comes back as ordinary changes. */
char                 *companion_desktop_sync_queue_command (CompanionDesktopSync *self,
                                                            const char           *event,
                                                            JsonObject           *fields,
                                                            GError              **error);

/* Sends FILE to CHAT_ID as a message with media (CAPTION may be NULL):
 * hashes and copies it into the mirror's media store on a worker thread,
 * then queues a "message-out" with that media in the persistent outbox;
 * the bytes go to the phone in chunks whenever it is connected
 * (docs/protocol.md, "Files from the desktop"). The task's result is the
 * client id (char *); errors are COMPANION_DESKTOP_SYNC_ERROR (a missing,
 * special, unreadable, empty or too large file, an unknown chat, a bad
 * caption) or the mirror's (a full disk). */
void                  companion_desktop_sync_send_file_async  (CompanionDesktopSync *self,
                                                               const char           *chat_id,
                                                               GFile                *file,
                                                               const char           *caption,
                                                               GCancellable         *cancellable,
                                                               GAsyncReadyCallback   callback,
                                                               gpointer              user_data);
char                 *companion_desktop_sync_send_file_finish (CompanionDesktopSync *self,
                                                               GAsyncResult         *result,
                                                               GError              **error);

G_END_DECLS
