/**
 * A compile-time check that `T` has every member of `Contract`, for a public class whose published
 * declaration leaves out the members that make it a `Contract` (they are marked internal and the
 * package is built with `stripInternal`, so an `implements` clause would not type-check for a
 * consumer). Name the check in a type alias next to the class, itself marked internal:
 * `export type ResponseServerRoles = Implements<Agent, ResponseServer>;`.
 *
 * It fails to compile once the class stops being a `Contract`, as `implements` would; the
 * places that hand the object over as a `Contract` are checked as before.
 */
export type Implements<Contract, T extends Contract> = T;
