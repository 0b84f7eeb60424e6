/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define COMPANION_TYPE_APPLICATION (companion_application_get_type ())

G_DECLARE_FINAL_TYPE (CompanionApplication, companion_application,
                      COMPANION, APPLICATION, AdwApplication)

CompanionApplication *companion_application_new (void);

G_END_DECLS
