#ifndef SWIFTLB_JAIL_H
#define SWIFTLB_JAIL_H

/// `chroot DIR` and libdispatch (see swiftlb_jail.c): call just before chroot(2).
void swiftlb_jail_entering(void);

#endif
