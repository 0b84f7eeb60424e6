/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "companion-desktop-server.h"
#include "companion-mirror-store.h"

G_BEGIN_DECLS

#define COMPANION_TYPE_DESKTOP_SYNC (companion_desktop_sync_get_type ())

G_DECLARE_FINAL_TYPE (CompanionDesktopSync, companion_desktop_sync, COMPANION, DESKTOP_SYNC, GObject)

/* The desktop's side of sync (docs/protocol.md, "Sync"): asks the paired
 * phone for everything after its cursor whenever it connects, applies
 * snapshot pages and change batches to the mirror, and acknowledges each
 * after it is committed. Signals: "progress" (entity name, records in the
 * page), "synced" (guint64 cursor: the snapshot is complete or a batch of
 * changes was committed), "failed" (GError: a page or batch was refused and
 * not applied; nothing already stored is lost), "command-done" (client
 * id), "command-failed" (client id, GError), "changes-applied" (GPtrArray
 * of CompanionChange: a live batch just committed; never emitted for
 * snapshot pages, so a first sync is not mistaken for news). */
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

G_END_DECLS
