#ifndef SWIFTLB_JAIL_H
#define SWIFTLB_JAIL_H

/// `chroot DIR` and libdispatch (see swiftlb_jail.c).
///
/// Call `swiftlb_jail_prepare_proc` as root before chroot(2), then `swiftlb_jail_entered`
/// once inside. Returns 0, or the errno that kept the private /proc from being made
/// (the fallback then answers libdispatch's reads; nothing else in /proc is reachable).
int swiftlb_jail_prepare_proc(void);
void swiftlb_jail_entered(void);

#endif
