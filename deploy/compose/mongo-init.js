// One-shot (the compose "mongo-init" service): initiates the replica set
// rs0 once, waits for mongo1 to be primary, then creates accountd's user or
// sets its password and roles to what .env says. Safe to run again.
const admin = db.getSiblingDB("admin");
admin.auth("root", process.env.MONGO_ROOT_PASSWORD);

let initiated = true;
try {
  rs.status();
} catch (e) {
  if (e.codeName !== "NotYetInitialized") throw e;
  initiated = false;
}
if (!initiated) {
  rs.initiate({
    _id: "rs0",
    members: [
      // mongo1 preferred as primary, so this script finds it there.
      { _id: 0, host: "mongo1:27017", priority: 2 },
      { _id: 1, host: "mongo2:27017", priority: 1 },
      { _id: 2, host: "mongo3:27017", priority: 1 },
    ],
  });
}
for (let i = 0; !admin.hello().isWritablePrimary; i++) {
  if (i >= 120) {
    print("mongo-init: mongo1 did not become primary within 2 minutes");
    quit(1);
  }
  sleep(1000);
}

// accountd reads and writes its read models in one database (--database,
// default "accounts") and creates its indexes there: readWrite is enough.
const roles = [{ role: "readWrite", db: "accounts" }];
if (admin.getUser("accountd") === null) {
  admin.createUser({ user: "accountd", pwd: process.env.MONGO_PASSWORD, roles: roles });
} else {
  admin.updateUser("accountd", { pwd: process.env.MONGO_PASSWORD, roles: roles });
}
print("mongo-init: replica set rs0 and user accountd ready");
