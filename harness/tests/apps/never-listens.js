// Stays alive without ever opening its port.
console.log("never-listens: idling");
setInterval(() => {}, 1000);
