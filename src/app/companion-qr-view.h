/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gtk/gtk.h>

#include "companion-types.h"

G_BEGIN_DECLS

#define COMPANION_TYPE_QR_VIEW (companion_qr_view_get_type ())

G_DECLARE_FINAL_TYPE (CompanionQrView, companion_qr_view, COMPANION, QR_VIEW, GtkWidget)

GtkWidget       *companion_qr_view_new      (void);
CompanionQrCode *companion_qr_view_get_code (CompanionQrView *self);
void             companion_qr_view_set_code (CompanionQrView *self,
                                             CompanionQrCode *code);

G_END_DECLS
